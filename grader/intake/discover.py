"""Find each notebook (e.g. HW1, HW2) in a submission folder, whatever Gradescope or Colab called them.

Students upload `HW1.py`, `HW1 (1).py`, `hw1.py`, `copy_of_hw1.py` (Colab's name for a copied
notebook), an `.ipynb` instead, or a folder such as `submission/week3/HW1.py`. We accept every one of
these. When several candidates exist, the one that defines the most of the notebook's answers is
graded (an old, unfinished `HW1.py` next to the finished `HW1 (1).py` loses); on a tie, the plainest
name wins (`HW1.py`, then `HW1 (1).py`, then other names; `.py` before `.ipynb`; shallower first).
Reading the candidates is part of the intake step and shares its deadline (grader/intake/limits.py):
a candidate that cannot be read in its share counts as implementing nothing.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.limits import IntakeClock
from grader.intake.sections import answers_defined

SUFFIXES = (".py", ".ipynb")
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}
#: Candidates read to compare what they implement, best-named first; the rest are passed over unread.
MAX_COMPARED = 8


@dataclass(frozen=True)
class Found:
    """The file chosen for one notebook, and the other candidates that were passed over."""

    stem: str
    path: Path | None
    passed_over: tuple[Path, ...] = field(default_factory=tuple)
    why: str = ""


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|[^0-9a-z]){re.escape(stem.lower())}(?:[^0-9]|$)")


def _rank(path: Path, root: Path, stem: str) -> tuple[int, int, int, str]:
    name = path.stem.lower()
    exact = 0 if name == stem.lower() else 1 if re.fullmatch(rf"{stem.lower()}\s*\(\d+\)", name) else 2
    return (exact, SUFFIXES.index(path.suffix.lower()), len(path.relative_to(root).parts), str(path))


def names_notebook(path: Path, stem: str) -> bool:
    """Whether the file name could be the notebook `stem` (e.g. `copy_of_hw1 (2).ipynb` for HW1)."""
    return path.suffix.lower() in SUFFIXES and bool(_pattern(stem).search(path.stem.lower()))


def candidates(root: Path, stem: str) -> list[Path]:
    """Every file under root that could be the notebook `stem`, best first."""
    found = [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part in IGNORED_PARTS or part.startswith(".") for part in path.relative_to(root).parts)
        and names_notebook(path, stem)
    ]
    return sorted(found, key=lambda path: _rank(path, root, stem))


def _choose(
    root: Path, stem: str, options: list[Path], answers: tuple[str, ...], clock: IntakeClock | None
) -> Found:
    """The candidate implementing the most answers; only the best-named few are read, so a folder of
    many look-alike files costs no more than a handful of parses."""
    compared, unread = options[:MAX_COMPARED], options[MAX_COMPARED:]
    counts = {}
    for path in compared:
        with clock.reading(path.name) if clock else nullcontext():
            counts[path] = len(answers_defined(path, answers))
    ranked = sorted(compared, key=lambda path: -counts[path])
    best, others = ranked[0], ranked[1:]
    if counts[best] > counts[others[0]]:
        why = f"it implements {counts[best]} of the {len(answers)} answers, more than " + ", ".join(
            f"{path.relative_to(root)} ({counts[path]})" for path in others
        )
    else:
        why = (
            "it implements as many answers as "
            + ", ".join(str(path.relative_to(root)) for path in others if counts[path] == counts[best])
            + ", and its name is the plainest"
        )
    return Found(stem, best, (*others, *unread), why)


def discover(
    root: Path,
    stems: list[str],
    answers: dict[str, tuple[str, ...]] | None = None,
    clock: IntakeClock | None = None,
) -> dict[str, Found]:
    """Map each notebook stem (e.g. "HW1") to the file chosen for it, or to None if absent.

    With `answers` (each stem's answer names), several candidates are told apart by what they define,
    each read within its share of `clock`, the intake's deadline.
    """
    options = {stem: candidates(root, stem) for stem in stems}
    compared = {stem: len(found) > 1 and stem in (answers or {}) for stem, found in options.items()}
    if clock is not None:
        clock.expect(sum(min(len(options[stem]), MAX_COMPARED) for stem in stems if compared[stem]))
    result = {}
    for stem in stems:
        if compared[stem] and answers:
            result[stem] = _choose(root, stem, options[stem], answers[stem], clock)
        else:
            found = options[stem]
            result[stem] = Found(stem, found[0] if found else None, tuple(found[1:]))
    return result
