"""The schema every reply from the student's process must meet before the trusted side reads it.

The student's process is the student's: anything in it can be replaced, so a reply can be anything
JSON allows. Each reply is checked here first; one that does not fit fails the test that asked with
``UNUSABLE`` (never "internal error", which would blame the grader for what the student's code sent).

The schema is not written here a second time: it is the reply types of grader/sandbox/protocol.py,
which the child builds its replies from. ``shape_problem`` walks a type (TypedDicts, literals, unions,
lists, bounded strings and integers), so a field or an error kind the protocol gains is checked at once.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints
from typing import is_typeddict as _is_typeddict

from grader.errors import BadValue
from grader.sandbox.protocol import Bounds, LoadReply, MaxLength, Reply

UNUSABLE = "your code's process sent a reply the grader cannot use"


class UnusableReply(BadValue):
    """A reply that does not meet the schema; the message names the call and what was wrong."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"While running `{name}`, {UNUSABLE} ({detail}), so this test cannot pass.")


def reply_problem(reply: Any) -> str | None:
    """What is wrong with a reply to call/get/run, or None when the trusted side may read it."""
    return shape_problem(reply, Reply)


def load_problem(reply: Any) -> str | None:
    """What is wrong with the reply to loading the definitions, or None."""
    return shape_problem(reply, LoadReply)


def shape_problem(value: Any, expected: Any, path: str = "") -> str | None:
    """What keeps ``value`` (decoded JSON) from being an ``expected`` of grader.sandbox.protocol, or None.

    ``path`` names where in the reply ``value`` sits, for the message (the reply itself when empty).
    """
    origin = get_origin(expected)
    if origin in (NotRequired, Required):
        return shape_problem(value, get_args(expected)[0], path)
    if origin is Annotated:
        base, *limits = get_args(expected)
        return shape_problem(value, base, path) or _limit_problem(value, limits, path)
    if origin in (Union, types.UnionType):
        return _union_problem(value, get_args(expected), path)
    if origin is Literal:
        return None if _is_literal(value, expected) else f"a malformed `{path}`"
    if origin is list:
        if not isinstance(value, list):
            return f"a malformed `{path}`"
        (item,) = get_args(expected)
        return next(
            (found for i, entry in enumerate(value) if (found := shape_problem(entry, item, f"{path}[{i}]"))),
            None,
        )
    if _is_typeddict(expected):
        return _record_problem(value, expected, path)
    return None if _is_plain(value, expected) else f"a malformed `{path}`"


def _is_plain(value: Any, expected: Any) -> bool:
    if expected is Any:
        return True
    if expected is None or expected is types.NoneType:
        return value is None
    # JSON's true is no integer here, and 1 is no boolean.
    return type(value) is expected


def _is_literal(value: Any, expected: Any) -> bool:
    return any(type(value) is type(option) and value == option for option in get_args(expected))


def _limit_problem(value: Any, limits: list[Any], path: str) -> str | None:
    for limit in limits:
        if isinstance(limit, MaxLength) and len(value) > limit.characters:
            return f"a `{path}` longer than {limit.characters} characters"
        if isinstance(limit, Bounds) and not limit.low <= value < limit.high:
            return f"a `{path}` out of range"
    return None


def _record_problem(value: Any, expected: Any, path: str) -> str | None:
    where = f"`{path}`" if path else "the reply"
    if not isinstance(value, dict):
        return f"{where} is not an object"
    fields = get_type_hints(expected, include_extras=True)
    if any(key not in fields for key in value):
        return f"an unknown field in {where}"
    missing = next((key for key in sorted(expected.__required_keys__) if key not in value), None)
    if missing is not None:
        return f"no `{_join(path, missing)}`"
    return next(
        (found for key in value if (found := shape_problem(value[key], fields[key], _join(path, key)))),
        None,
    )


def _union_problem(value: Any, options: tuple[Any, ...], path: str) -> str | None:
    """A union of records is told apart by the field whose literal differs (``kind``, ``ok``)."""
    if value is None and types.NoneType in options:
        return None
    records = [option for option in options if _is_typeddict(option)]
    if len(records) > 1 and isinstance(value, dict):
        key = _discriminator(records)
        chosen = [
            record
            for record in records
            if _is_literal(value.get(key), get_type_hints(record, include_extras=True)[key])
        ]
        if not chosen:
            noun = path.rsplit(".", 1)[-1] or "reply"
            return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} of no known {key}"
        return shape_problem(value, chosen[0], path)
    problems = [shape_problem(value, option, path) for option in options]
    return None if None in problems else problems[0]


def _discriminator(records: list[Any]) -> str:
    """The field that is a literal in every record (the protocol's unions all have one)."""
    hints = [get_type_hints(record, include_extras=True) for record in records]
    shared = set.intersection(*(set(h) for h in hints))
    return next(key for key in sorted(shared) if all(get_origin(h[key]) is Literal for h in hints))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
