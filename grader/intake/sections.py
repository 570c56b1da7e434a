"""Read one notebook file for one section of the assignment: the rule for what is graded, and the notes.

The section-boundary rule (principle 8: grade what the student's checks saw)
----------------------------------------------------------------------------
A notebook is graded as it stood when its own check cells ran. The graded part of HW2 is §2.1; the
cells of §2.2 come after, and students use them to experiment: they set `DEVICE = "cuda"` (or
`"mps"`) in the starter cell, redefine `softmax` to try a variant, leave a cell unfinished.
None of that was seen by the §2.1 checks, so none of it may change the §2.1 grade.

- The graded part of a notebook is declared by its section in the table (`graded_part = "2.1"`),
  never inferred from its tests (the table refuses a test numbered past it). It ends at the first
  heading numbered in the same section past that part (`## 2.2 Experimenting …`, `§2.2`, `Part 2.2`).
- Where the section names its notebook's own check cells (the table's `checked_by`, e.g. HW2's
  `compare_with_reference`, `check_answer`), the graded part ends sooner: right after the last top-level
  statement above that heading that calls one of them, or calls a function of the file that does.
  A cell between the last test cell and the next heading (`DEVICE = "cuda"` set up for §2.2) was not
  seen by the checks either.
- The definitions, and every global they read, then come from the cells above that heading: a §2.2
  cell can neither replace `softmax` nor flip `DEVICE` for it. Imports below it are kept when
  they rebind nothing above it (slicer.graded_body).
- Headings are found in `.ipynb` markdown cells, in the comment headings of jupytext and nbconvert
  exports, and in the markdown strings of Colab's "Download .py" (headings.py).

Where it cannot apply, the last definition in the file wins, as it did in the notebook when the
cells were run top to bottom:
- no numbered heading past the graded parts (a notebook whose headings were deleted or renamed, or
  a notebook whose steps are not numbered as sections);
- an answer first defined below that heading, or below the last check cell (the student moved it):
  that line then does not mark the end of the graded work, so it is ignored, and the log says so;
- code that ran out of order in the notebook (a §2.1 cell re-run after a §2.2 cell) cannot be seen
  in an export: we grade the file's order.

Unreadable chunks (tolerant.py) cost only what is in them: a chunk that defines no answer is left
out with one ungraded note; an answer whose only definition does not parse fails alone, with the
line, its text and the heading above it, said once at the top of the report.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from grader.intake.headings import Heading
from grader.intake.limits import IntakeError
from grader.intake.normalise import Normalised, normalise_file
from grader.intake.slicer import Legacy, Sliced, binds, slice_source
from grader.intake.tolerant import Unreadable, parse_tolerant

log = logging.getLogger("grader")
MAX_NAMES_SHOWN = 4


@dataclass(frozen=True)
class Export:
    """One file read once: its normalised text, the tree of what parses, and what did not."""

    normalised: Normalised
    tree: ast.Module
    text: str
    unreadable: tuple[Unreadable, ...]

    def first_bindings(self) -> dict[str, int]:
        """The first line at which each top-level name is bound."""
        first: dict[str, int] = {}
        for stmt in self.tree.body:
            for name in binds(stmt):
                first.setdefault(name, stmt.lineno)
        return first

    def implemented(self) -> set[str]:
        """Top-level names bound by something other than the template's placeholder."""
        return {name for stmt in self.tree.body if not _is_placeholder(stmt) for name in binds(stmt)}


def _is_placeholder(stmt: ast.stmt) -> bool:
    """`x = ...`, or a function whose body is only a docstring, `pass` or `raise NotImplementedError`."""
    if isinstance(stmt, ast.Assign):
        return isinstance(stmt.value, ast.Constant) and stmt.value.value in (Ellipsis, None)
    if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return all(
        isinstance(part, ast.Pass)
        or (isinstance(part, ast.Expr) and isinstance(part.value, ast.Constant))
        or (
            isinstance(part, ast.Raise)
            and "NotImplementedError" in {n.id for n in ast.walk(part) if isinstance(n, ast.Name)}
        )
        for part in stmt.body
    )


@dataclass(frozen=True)
class SectionSource:
    """What a section is graded from, and what the student is told about the file once."""

    normalised: Normalised
    sliced: Sliced
    notes: tuple[str, ...]
    unreadable_answers: dict[str, str]
    boundary: Heading | None
    #: The first line that is not graded (the heading, or the line after the last check cell), or None.
    until: int | None = None


@lru_cache(maxsize=8)
def _read(path: Path, _mtime_ns: int, _size: int) -> Export | IntakeError:
    """The file read, or why it cannot be: a file that cannot be read is not read twice."""
    try:
        normalised = normalise_file(path)
        tree, text, unreadable = parse_tolerant(normalised.text, normalised.filename)
    except IntakeError as error:
        return error
    return Export(normalised, tree, text, tuple(unreadable))


def read_export(path: Path) -> Export:
    """The file at `path`, normalised and parsed once (discovery and grading share the result)."""
    try:
        stat = path.stat()
        read = _read(path, stat.st_mtime_ns, stat.st_size)
    except OSError as error:
        raise IntakeError(f"{path.name} could not be opened: {error.strerror or error}.") from None
    if isinstance(read, IntakeError):
        raise read
    return read


def answers_defined(path: Path, answers: tuple[str, ...]) -> list[str]:
    """The answers that `path` implements at top level (none when it cannot be read at all)."""
    try:
        implemented = read_export(path).implemented()
    except IntakeError:
        return []
    return [name for name in answers if name in implemented]


def graded_end(export: Export, section: int, last_part: int, answers: tuple[str, ...]) -> Heading | None:
    """The heading where the graded part of the notebook ends, or None (the rule above)."""
    boundary = next(
        (
            heading
            for heading in export.normalised.headings
            if heading.number and heading.number[0] == section and heading.number[1] > last_part
        ),
        None,
    )
    if boundary is None:
        return None
    first = export.first_bindings()
    below = [name for name in answers if first.get(name, 0) >= boundary.lineno]
    if below:
        log.info(
            "%s: %s defined below the heading %r; grading the whole file",
            export.normalised.filename,
            ", ".join(below),
            boundary.title,
        )
        return None
    return boundary


def _calling(export: Export, checked_by: tuple[str, ...]) -> set[str]:
    """`checked_by` and every function of the file that calls one of them, directly or not."""
    calls = {
        stmt.name: {
            n.func.id for n in ast.walk(stmt) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        | {
            n.func.attr
            for n in ast.walk(stmt)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        for stmt in export.tree.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = set(checked_by)
    while new := {name for name, called in calls.items() if name not in found and called & found}:
        found |= new
    return found


def checks_end(
    export: Export, checked_by: tuple[str, ...], until: int | None, answers: tuple[str, ...]
) -> int | None:
    """The line after the notebook's last check cell above `until`, or None (the rule above)."""
    if not checked_by:
        return None
    checking = _calling(export, checked_by)
    cells = [
        stmt
        for stmt in export.tree.body
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and (until is None or stmt.lineno < until)
        and any(isinstance(n, ast.Call) and _called_name(n) in checking for n in ast.walk(stmt))
    ]
    if not cells:
        return None
    end = (cells[-1].end_lineno or cells[-1].lineno) + 1
    first = export.first_bindings()
    below = [name for name in answers if first.get(name, 0) >= end]
    if below:
        log.info(
            "%s: %s defined below the last check cell (line %d); not ending the graded part there",
            export.normalised.filename,
            ", ".join(below),
            cells[-1].lineno,
        )
        return None
    return end


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _names(names: list[str]) -> str:
    shown = ", ".join(f"`{name}`" for name in names[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else "")


def mix_up(export: Export, stem: str, answers: tuple[str, ...], others: dict[str, tuple[str, ...]]) -> None:
    """Refuse a file that holds another notebook's answers and none of its own, naming the mix-up."""
    bound = export.first_bindings()
    if any(name in bound for name in answers):
        return
    for other, their_answers in others.items():
        theirs = [name for name in their_answers if name in bound]
        if len(theirs) >= 2:
            filename = export.normalised.filename
            raise IntakeError(
                f"{filename} looks like your {other} export, not {stem}: it defines {_names(theirs)} "
                f"({other}'s answers) and none of {stem}'s. Upload the {stem} notebook, downloaded as "
                f"{stem}.py, in this slot."
            )


def _unreadable_messages(
    export: Export, answers: tuple[str, ...], sliced: Sliced
) -> tuple[list[str], dict[str, str]]:
    """One note per chunk left out; for each answer it took with it, the message its tests show."""
    normalised = export.normalised
    kept = {name for unit in sliced.units for name in unit.binds}
    notes, failed = [], {}
    for chunk in export.unreadable:
        where = normalised.where(chunk.lineno)
        text = normalised.line_text(chunk.lineno)
        broken = f"{where}{f': `{text}`' if text else ''} is not valid Python ({chunk.reason})"
        lost = [name for name in chunk.binds if name in answers and name not in kept]
        used = [name for name in chunk.binds if name in sliced.unbound]
        if lost:
            notes.append(
                f"{broken}, so the cell holding it was left out and {_names(lost)} could not be graded. "
                "Fix that line and download the notebook again."
            )
            for name in lost:
                failed[name] = (
                    f"`{name}` could not be read: its cell is not valid Python ({where}; the line and the "
                    "error are shown at the top of this report)."
                )
        elif used:
            notes.append(
                f"{broken}, so the cell holding it was left out; it also sets {_names(used)}, which your "
                "answers use. Fix that line and download the notebook again."
            )
        else:
            notes.append(f"{broken}; that cell defines no answer, so it was left out and costs nothing.")
    return notes, failed


def read_section(
    path: Path,
    stem: str,
    answers: tuple[str, ...],
    parts: tuple[int, int],
    others: dict[str, tuple[str, ...]],
    checked_by: tuple[str, ...] = (),
    *,
    legacy: Legacy | None = None,
) -> SectionSource:
    """Read `path` for the section `parts[0]` whose last graded subsection is `parts[1]`.

    `others` maps the other notebooks' names to their answers, to recognise a file uploaded in the
    wrong slot; `checked_by` names the notebook's own check helpers; `legacy` is the section's legacy
    name and the answers it stands for (slicer.py), or None. Raises IntakeError, with a message for the
    student, when the file cannot be graded.
    """
    export = read_export(path)
    mix_up(export, stem, answers, others)
    boundary = graded_end(export, parts[0], parts[1], answers)
    until = boundary.lineno if boundary else None
    if boundary is not None:
        log.info("%s: graded up to the heading %r (line %d)", path.name, boundary.title, boundary.lineno)
    after_checks = checks_end(export, checked_by, until, answers)
    if after_checks is not None:
        log.info("%s: graded as it stood after its last check cell (up to line %d)", path.name, after_checks)
        until = after_checks
    sliced = slice_source(export.text, answers, export.normalised.filename, export.tree, until, legacy=legacy)
    notes, failed = _unreadable_messages(export, answers, sliced)
    notes_all = (*export.normalised.notes, *notes)
    return SectionSource(export.normalised, sliced, notes_all, failed, boundary, until)
