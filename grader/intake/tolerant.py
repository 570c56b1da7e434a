"""Parse an export even when parts of it are not Python: drop the broken chunks, keep the rest.

A notebook is many cells run one by one; one unfinished cell (`model =`) never stopped the others
from running, so it must not stop us from reading them. We parse the whole text; when that fails, we
blank the chunk holding the error and parse again. A chunk runs from one boundary to the next, where
a boundary is a cell marker (`# %%`, `# In[3]:`, every cell of a `.ipynb`) or a line at column 0
after a blank line (Colab's "Download .py" separates cells by a blank line, and a top-level
statement starts at column 0). Blanking keeps every line in place, so line numbers still match the
student's file.

Errors without a line (a NUL byte, an expression nested thousands deep) are found chunk by chunk.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.intake.normalise import CELL_MARKER, IntakeError

ON_LINE = re.compile(r"on line (\d+)")
DEFINES = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)")


@dataclass(frozen=True)
class Unreadable:
    """A chunk that was left out because it does not parse: its lines, the error's line and why."""

    first: int
    last: int
    lineno: int
    reason: str
    binds: tuple[str, ...]


def _chunk_starts(lines: list[str]) -> list[int]:
    starts = [1]
    for number in range(2, len(lines) + 1):
        line, previous = lines[number - 1], lines[number - 2]
        if CELL_MARKER.match(line) or (
            line[:1] not in ("", " ", "\t", ")", "]", "}") and not previous.strip()
        ):
            starts.append(number)
    return starts


def _chunk_of(starts: list[int], lineno: int, total: int) -> tuple[int, int]:
    first = max(start for start in starts if start <= lineno)
    later = [start for start in starts if start > lineno]
    return first, (later[0] - 1 if later else total)


def _defined_in(lines: list[str]) -> tuple[str, ...]:
    names = (match.group(1) or match.group(2) for line in lines if (match := DEFINES.match(line)))
    return tuple(dict.fromkeys(names))


def _error_line(error: SyntaxError, lines: list[str]) -> int:
    hint = ON_LINE.search(error.msg or "")
    lineno = int(hint.group(1)) if hint else (error.lineno or len(lines))
    if lineno > len(lines) or not lines[lineno - 1].strip():
        # An error at the end of the text belongs to the last line that holds anything.
        lineno = max((n for n in range(1, min(lineno, len(lines)) + 1) if lines[n - 1].strip()), default=1)
    return lineno


def _parse(lines: list[str]) -> tuple[ast.Module | None, int | None, str]:
    """The tree, or (None, the error's line or None, why)."""
    try:
        return ast.parse("\n".join(lines)), None, ""
    except SyntaxError as error:
        return None, _error_line(error, lines), error.msg or "invalid syntax"
    except ValueError:
        return None, None, "a NUL byte, which is not text"
    except (RecursionError, MemoryError):
        return None, None, "expressions nested too deeply for Python to read"


def _lineless_culprit(lines: list[str], starts: list[int]) -> int | None:
    """The first line of the first chunk that fails to parse on its own for a reason without a line."""
    for first in starts:
        last = _chunk_of(starts, first, len(lines))[1]
        tree, line, _ = _parse(lines[first - 1 : last])
        if tree is None and line is None:
            return first
    return None


def parse_tolerant(text: str, filename: str) -> tuple[ast.Module, str, list[Unreadable]]:
    """The tree of every chunk that parses, the text it was parsed from, and the chunks left out."""
    lines = text.split("\n")
    starts = _chunk_starts(lines)
    dropped: list[Unreadable] = []
    for _ in range(len(starts) + 1):
        tree, line, reason = _parse(lines)
        if tree is not None:
            return tree, "\n".join(lines), dropped
        if line is None:
            line = _lineless_culprit(lines, starts)
        if line is None:
            break
        first, last = _chunk_of(starts, line, len(lines))
        dropped.append(Unreadable(first, last, line, reason, _defined_in(lines[first - 1 : last])))
        lines[first - 1 : last] = [""] * (last - first + 1)
    raise IntakeError(f"{filename} cannot be read as Python: {reason or 'no part of it parses'}.")
