"""Whose failure is it? When a check raises what no check should, the same check on the staff solution
decides (principle 11: "internal error" means ours, and only ours).

Every value from the student's process is validated into a known type before the trusted side computes
with it (grader/sandbox/wire.py, grader/replies.py), so a check that still raises something other than
a GradingFailure has met a value its own code did not expect. The grader then runs the same check
again, with the same fixtures, the same run secret and so the same inputs, on the staff solution: the
reference notebooks of ``reference/``, read and loaded the way a submission is, each in its own sandbox
(a GradingSession of their own). If the check passes there, the student's value is what it could not
use, and the test fails with a plain message; if it fails there too (or the reference is not at hand,
as in the students' checker and a Gradescope image built without it), the fault is ours and the test is
an internal error, logged with both accounts.

The reference's process loads under the table's load deadline, as a submission's does, and the rerun
of the check is then bounded by the test's own time limit.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from grader.session import GradingSession

log = logging.getLogger("grader")
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
#: The student-facing reason when the check passes on the reference's values but not on the student's.
CANNOT_USE = "Your code returned something this check cannot use: {what}. So this test cannot pass."
#: Fixtures that record what a check says (notes, leaderboard entries): silent in the rerun.
RECORDING_FIXTURES = ("note", "leaderboard")


class _OutOfTime(Exception):
    """The rerun on the reference passed the test's time limit."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _OutOfTime in the main thread after `seconds` (elsewhere: no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # an enclosing timer (pytest-timeout's) goes on with what it had left
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


def what_failed(error: BaseException) -> str:
    """An exception as the student's message names it: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _silent(*_args: object, **_kwargs: object) -> None:
    """What the rerun's `note` and `leaderboard` do: the student's report must not hear of it."""


class ReferenceRerun:
    """The staff solution, graded beside the student's submission when a check needs it."""

    def __init__(self, student: GradingSession, folder: Path | None = None) -> None:
        self.student = student
        self.folder = folder or REFERENCE_DIR
        self.session: GradingSession | None = None

    def available(self) -> bool:
        files = [section.file for section in self.student.table.sections.values()]
        return all((self.folder / f"{file}.py").is_file() for file in files)

    def failure(self, item: pytest.Item, number: str, seconds: float) -> str | None:
        """Run the check of `item` (test `number`) on the reference's values, as it ran on the
        student's; None when it passes there, else what went wrong, for the log."""
        if not self.available() or not isinstance(item, pytest.Function):
            return f"no reference solution at {self.folder} to compare with"
        log.info("test %s raised on the submission's values: running it on the reference solution", number)
        try:
            arguments = self._arguments(item, number)
            with _time_limit(seconds):
                item.obj(**arguments)
        except _OutOfTime:
            return f"the check did not finish on the reference solution within {seconds:g} s"
        except Exception as error:  # noqa: BLE001 - whatever the reference met is ours to report
            return "on the reference solution too: " + "".join(traceback.format_exception(error))
        return None

    def _session(self) -> GradingSession:
        if self.session is None:
            student = self.student
            self.session = GradingSession(
                self.folder,
                student.table,
                student.profile,
                student.sandbox_user,
                protect=(),
                seed=student.secret,
            )
            self.session.start(())
        return self.session

    def _arguments(self, item: pytest.Function, number: str) -> dict[str, Any]:
        """The check's arguments for the rerun: the reference's sections in place of the student's, the
        recording fixtures silenced, every other fixture (the seeds included) as it was."""
        session = self._session()
        session.current_test = number
        fixtures = {section.fixture: index for index, section in session.table.sections.items()}
        arguments: dict[str, Any] = {}
        for name in inspect.signature(item.obj).parameters:
            if name in fixtures:
                section = session.section(fixtures[name])
                section.start()
                arguments[name] = section
            else:
                arguments[name] = _silent if name in RECORDING_FIXTURES else item.funcargs[name]
        return arguments

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
