"""The schema every reply from the student's process must meet before the trusted side reads it.

The student's process is the student's: anything in it can be replaced, so a reply can be anything
JSON allows. Each reply is checked here first; one that does not fit fails the test that asked with
``UNUSABLE`` (never "internal error", which would blame the grader for what the student's code sent).
"""

from __future__ import annotations

from typing import Any

from grader.errors import BadValue

UNUSABLE = "your code's process sent a reply the grader cannot use"
ERROR_KINDS = {"missing", "not_implemented", "raised", "bad_value"}


class UnusableReply(BadValue):
    """A reply that does not meet the schema; the message names the call and what was wrong."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"While running `{name}`, {UNUSABLE} ({detail}), so this test cannot pass.")


def _text(value: Any, limit: int = 4000) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _line(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**7)


def _frame_ok(info: Any) -> bool:
    return (
        isinstance(info, dict)
        and _text(info.get("type", ""), 200)
        and _text(info.get("message", ""))
        and _line(info.get("lineno"))
        and _text(info.get("function", ""), 200)
    )


def error_problem(error: Any) -> str | None:
    """What is wrong with the ``error`` of a failed reply, or None."""
    if not isinstance(error, dict) or error.get("kind") not in ERROR_KINDS:
        return "an error of no known kind"
    kind = error["kind"]
    if kind == "missing":
        cause = error.get("cause")
        return None if cause is None or _frame_ok(cause) else "a malformed load failure"
    if kind == "raised" and not (_frame_ok(error) and _text(error.get("type"), 200)):
        return "an error without its type and message"
    if not _text(error.get("name", ""), 200) or not _text(error.get("message", "")):
        return "an error without a readable name or message"
    return None


def reply_problem(reply: Any) -> str | None:
    """What is wrong with a reply to call/get/run, or None when the trusted side may read it."""
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return "no ok/error status"
    if not reply["ok"]:
        return error_problem(reply.get("error"))
    devices = reply.get("devices", [])
    if not isinstance(devices, list) or not all(_text(d, 64) for d in devices):
        return "a malformed list of devices"
    return None


def load_problem(reply: Any) -> str | None:
    """What is wrong with the reply to loading the definitions, or None."""
    if not isinstance(reply, dict) or reply.get("ok") is not True:
        return "no ok status"
    failures = reply.get("failures", [])
    if not isinstance(failures, list):
        return "a malformed list of load failures"
    for failure in failures:
        binds = failure.get("binds") if isinstance(failure, dict) else None
        if not (_frame_ok(failure) and isinstance(binds, list) and all(_text(b, 200) for b in binds)):
            return "a malformed load failure"
    return None
