"""Solution markers in notebook sources, and the student version of a source.

Two forms mark the staff solution in ``reference/*.py``:

- a block: a line ``# BEGIN SOLUTION [prompt]`` ... a line ``# END SOLUTION``; the student sees
  ``# TODO: <prompt>`` and ``raise NotImplementedError`` at the indentation of the BEGIN line;
- a line: ``<target> = <expr>  # SOLUTION [prompt]``; the student sees
  ``<target> = ...  # TODO: <prompt>``.

Public API (also used by the leak scan of the students' checker bundle):

- ``strip_solutions(text, path)`` -> the student version of a source;
- ``solution_lines(text, path)`` -> every ``SolutionLine`` that must never reach a student;
- ``MarkerError``: a malformed marker, with its file and line (``str(error)`` is ``file:line: message``).
"""

import re
from dataclasses import dataclass

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
LINE_MARKER = "# SOLUTION"
DEFAULT_BLOCK_PROMPT = "write your code here."
DEFAULT_LINE_PROMPT = "replace ... with your answer."

_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b[ \t]*(?P<prompt>.*)$")
_END_RE = re.compile(r"^[ \t]*# END SOLUTION\b")
_LINE_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<target>[^=#]+?)[ \t]*=(?!=)[ \t]*"
    r"(?P<expr>.+?)[ \t]+# SOLUTION\b[ \t]*(?P<prompt>.*)$"
)
_ANY_LINE_MARKER_RE = re.compile(r"# SOLUTION\b")


class MarkerError(ValueError):
    """A malformed solution marker; ``str()`` gives ``file:line: message``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class SolutionLine:
    """One line of staff solution: where it is (1-based line number) and its code, markers removed."""

    path: str
    line: int
    code: str


@dataclass(frozen=True)
class _Parsed:
    student_lines: list[str]
    solutions: list[SolutionLine]


def _parse(text: str, path: str) -> _Parsed:
    """Walk the source once, checking the markers, building the student lines and the solution lines."""
    student: list[str] = []
    solutions: list[SolutionLine] = []
    open_block: tuple[int, str, str] | None = None  # (line number, indentation, prompt) of an open BEGIN
    for number, line in enumerate(text.splitlines(), start=1):
        begin, end = _BEGIN_RE.match(line), _END_RE.match(line)
        if begin:
            if open_block:
                raise MarkerError(path, number, f"{BEGIN} inside the block opened on line {open_block[0]}.")
            open_block = (number, begin["indent"], begin["prompt"].strip() or DEFAULT_BLOCK_PROMPT)
        elif end:
            if not open_block:
                raise MarkerError(path, number, f"{END} without a matching {BEGIN}.")
            _, indent, prompt = open_block
            student += [f"{indent}# TODO: {prompt}", f"{indent}raise NotImplementedError"]
            open_block = None
        elif open_block:
            if _ANY_LINE_MARKER_RE.search(line):
                raise MarkerError(path, number, f"a {LINE_MARKER} line marker inside a solution block.")
            if line.strip():
                solutions.append(SolutionLine(path, number, line.strip()))
        elif _ANY_LINE_MARKER_RE.search(line):
            marked = _LINE_RE.match(line)
            if not marked:
                raise MarkerError(
                    path, number, f"{LINE_MARKER} must end a line of the form `target = expression`."
                )
            prompt = marked["prompt"].strip() or DEFAULT_LINE_PROMPT
            student.append(f"{marked['indent']}{marked['target']} = ...  # TODO: {prompt}")
            solutions.append(SolutionLine(path, number, f"{marked['target']} = {marked['expr']}"))
        else:
            student.append(line)
    if open_block:
        raise MarkerError(path, open_block[0], f"{BEGIN} is never closed by {END}.")
    return _Parsed(student, solutions)


def strip_solutions(text: str, path: str) -> str:
    """The student version of ``text``: every solution replaced by its TODO prompt.

    Raises ``MarkerError`` for a BEGIN without END, an END without BEGIN, a nested BEGIN, or a
    malformed line marker.
    """
    return "\n".join(_parse(text, path).student_lines) + "\n"


def solution_lines(text: str, path: str) -> list[SolutionLine]:
    """Every non-blank line inside a solution block, and ``target = expr`` of every line marker."""
    return _parse(text, path).solutions
