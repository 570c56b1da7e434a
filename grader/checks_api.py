"""What a graded check may ask of the student's section: the interface, apart from the implementation.

An assignment's checks (its ``checks/``) and the helpers of its own they call receive a section
fixture, named after the section's notebook (``hw1`` for a notebook HW1). At run time
that is a ``grader.student_section.StudentSection``, whose job is processes, replies and sandboxes. The checks
depend on ``SectionAPI`` instead: the few reads, calls and facts they use, so that what a check may
rely on is written down in one place, and the session can change how it serves them without a check
knowing. ``StudentSection`` satisfies these protocols structurally (it names none of them); mypy
proves it where the fixtures are made (``grader.plugin``) and in ``tests/test_checks_api.py``, so a
change to the session that breaks a check's contract fails ``make lint``.

A check that needs more of the section (``sliced``, say, for a static check) adds it here first,
with the type the session gives it.

Nothing here runs during grading: the checks and helpers import this module only for type checking
(``if TYPE_CHECKING:``), so it is no part of what ships to students or of the sandbox's staged code
(``grader.import_closure`` reads no such import).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import torch

from grader.integrity import Flag, Recording

#: The ``note`` fixture: adds an ungraded remark to the current test's output.
Note = Callable[[str], None]
#: The ``leaderboard`` fixture: ``leaderboard(name, value, order="desc")`` adds a Gradescope entry.
Leaderboard = Callable[..., None]


class CallResult(Protocol):
    """What ``SectionAPI.call_detailed`` returns (``grader.student_section.CallReport``)."""

    @property
    def value(self) -> Any:
        """The student's return value, decoded by ``grader.sandbox.wire`` (tensors on the CPU)."""

    @property
    def devices(self) -> list[str]:
        """The devices the returned tensors were on in the student's process."""

    @property
    def recording(self) -> Recording | None:
        """The verified operator recording when the call asked for one (``record=True``), else None."""


class FlagLog(Protocol):
    """Where a check raises a flag for staff (``grader.integrity.IntegrityLog``)."""

    def add(self, flags: Iterable[Flag]) -> None:
        """Record ``flags`` (each once) for the staff's view of the run."""


class SessionAPI(Protocol):
    """The facts of the grading run a section helper reads through ``SectionAPI.session``."""

    @property
    def integrity(self) -> FlagLog:
        """The run's integrity log."""

    def cuda_available(self) -> bool:
        """Whether checks may run student code on CUDA in this run."""


class SectionAPI(Protocol):
    """One notebook section of the submission, as the checks and the section helpers use it.

    Every method that reaches the student's code fails with a ``grader.errors.GradingFailure``
    subclass whose message is ready for the student; ``StudentSection``'s docstrings say which and
    when.
    """

    @property
    def number(self) -> int:
        """The section's number in the table: the N of its ``[sections.N]``."""

    @property
    def filename(self) -> str:
        """The student's file name, for messages and flags."""

    @property
    def session(self) -> SessionAPI:
        """The grading run the section belongs to."""

    def has(self, name: str) -> bool:
        """Whether the kept code binds ``name`` at top level."""

    def function_node(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The syntax tree of the student's function ``name``, or None."""

    def get(self, name: str, *, timeout: float | None = None) -> Any:
        """A top-level value of the submission, read once per run."""

    def call(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        device: str | None = None,
        seed: int | None = None,
        record: bool = False,
        cotangent: torch.Tensor | None = None,
    ) -> Any:
        """The value the student's function ``name(*args, **kwargs)`` returns."""

    def call_detailed(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        device: str | None = None,
        seed: int | None = None,
        record: bool = False,
        cotangent: torch.Tensor | None = None,
    ) -> CallResult:
        """``call``, with the devices of the result and the verified recording."""

    def run(
        self,
        target: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        seed: int | None = None,
        uses: tuple[str, ...] = (),
    ) -> Any:
        """What our driver ``target`` (``"module:function"``) returns, run beside the student's code."""
