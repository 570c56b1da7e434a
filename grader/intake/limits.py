"""How much of a submitted file the intake reads, and for how long: each limit, and what a file past it gets.

Intake (discovery, normalising, tolerant parsing, slicing, the review of what each answer reaches) runs
in the trusted process before any test's time limit starts, on files the student wrote. So it is one
step with its own deadline, the table's ``[sandbox] intake_timeout``, shared fairly between the files it
reads (``IntakeClock``), and every part of it is linear in the size of the file within the limits below.
A file that would need more is graded as unreadable, with a message that says why; the other
candidates and notebooks are still graded.

The limits are far above any honest notebook (the course's own are under 20,000 characters, a few
hundred lines, a hundred cells, nested a dozen levels):

- ``MAX_SOURCE_CHARS``: the text of the code and markdown (a `.ipynb`'s outputs are not read);
- ``MAX_CELLS``: the cells of a `.ipynb`;
- ``MAX_LINE_CHARS``: a line; a longer one is left out with the cell holding it (a markdown line of a
  `.ipynb` is only shortened: it is never code);
- ``MAX_UNREADABLE``: the cells that do not parse and are left out one by one (tolerant.py), and
  ``PARSE_WORK``: how much text parsing them may read in all, as a multiple of the file's size (with a
  floor, so a small file can afford many retries);
- ``MAX_NESTING``: how deeply a statement's syntax tree nests; a deeper statement is left out;
- a heading's number has at most ``MAX_NUMBER_DIGITS`` digits a part (headings.py).

Checking the deadline is cooperative: the loops of the intake call ``on_time``, which raises
IntakeTimeout once the current file's share of the step is spent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

MAX_SOURCE_CHARS = 500_000
MAX_CELLS = 5_000
MAX_LINE_CHARS = 10_000
MAX_UNREADABLE = 100
PARSE_WORK = 2
PARSE_WORK_FLOOR = 1_000_000
MAX_NESTING = 200
MAX_NUMBER_DIGITS = 4


class IntakeError(ValueError):
    """The file cannot be read as a notebook export; the message is for the student."""

    @property
    def headline(self) -> str:
        """The message's first clause, e.g. `HW2.py looks like your HW1 export, not HW2`."""
        return str(self).split(":")[0].rstrip(".")


class IntakeTimeout(IntakeError):
    """Reading one file took longer than its share of the intake's deadline."""

    def __init__(self, filename: str, seconds: float) -> None:
        super().__init__(
            f"{filename} could not be read within the {seconds:.1f} s the grader gives one file: a "
            "notebook's export is read in a fraction of that, so this file holds far more than a notebook "
            "(or many copies of one) and was graded as unreadable. Upload the notebook as Colab or Jupyter "
            "downloads it."
        )


@dataclass(frozen=True)
class _Deadline:
    filename: str
    seconds: float
    end: float


_CURRENT: ContextVar[_Deadline | None] = ContextVar("intake_deadline", default=None)


def on_time() -> None:
    """Raise IntakeTimeout if the file being read has spent its share of the intake's deadline."""
    current = _CURRENT.get()
    if current is not None and time.monotonic() > current.end:
        raise IntakeTimeout(current.filename, current.seconds)


class IntakeClock:
    """The intake step's deadline, shared between the files it reads.

    ``expect`` announces reads to come; each ``reading`` gets the time left divided by the reads still
    expected, so a file that spends its whole share leaves every later file at least as much.
    """

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.pending = 0

    def expect(self, reads: int) -> None:
        self.pending += reads

    @contextmanager
    def reading(self, filename: str) -> Iterator[None]:
        share = max(0.0, self.end - time.monotonic()) / max(1, self.pending)
        self.pending = max(0, self.pending - 1)
        token = _CURRENT.set(_Deadline(filename, share, time.monotonic() + share))
        try:
            yield
        finally:
            _CURRENT.reset(token)
