"""Parse an export even when parts of it are not Python: drop the broken chunks, keep the rest.

A notebook is many cells run one by one; one unfinished cell (`model =`) never stopped the others
from running, so it must not stop us from reading them. We parse the whole text; when that fails, we
blank the chunk holding the error and parse again. A chunk runs from one boundary to the next, where
a boundary is a cell marker (`# %%`, `# In[3]:`, every cell of a `.ipynb`) or a line at column 0
after a blank line (Colab's "Download .py" separates cells by a blank line, and a top-level
statement starts at column 0). Blanking keeps every line in place, so line numbers still match the
student's file.

Errors without a line (a NUL byte, an expression nested thousands deep) are found chunk by chunk.

In time linear in the file (grader/intake/limits.py): the text before a dropped chunk is parsed again
only when it cannot stand alone. Once it parses on its own and the chunk after the dropped one starts a
statement of its own (code at column 0, not `else:`, `except:` or a comment over an indented line),
it is kept as it is and the next parse starts after the dropped chunk: the tree is the same as the one
parsing the whole text again would give. Where the text cannot be split so (brackets or strings left
open in one broken cell after another), parsing reads at most PARSE_WORK times the file (plus a floor)
in all. A line longer than MAX_LINE_CHARS and a statement nested deeper than MAX_NESTING are left out
with their chunk, like a chunk that does not parse. A file past these limits, with more than
MAX_UNREADABLE chunks left out, or that spends its share of the intake's deadline, is unreadable.
"""

from __future__ import annotations

import ast
import bisect
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from grader.intake.limits import (
    MAX_LINE_CHARS,
    MAX_NESTING,
    MAX_UNREADABLE,
    PARSE_WORK,
    PARSE_WORK_FLOOR,
    IntakeError,
    on_time,
)
from grader.intake.normalise import CELL_MARKER

ON_LINE = re.compile(r"on line (\d+)")
#: A line number in a parser's message ("detected at line 12"), counted in the text that was parsed.
LINE_NUMBER = re.compile(r"\bline (\d+)")
DEFINES = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)")
#: Lines at column 0 that continue the statement above them, whatever blank lines come between.
CONTINUES = re.compile(r"(?:else|elif|except|finally)\b")
NUL = "\0"


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


def _standalone_starts(lines: list[str]) -> list[bool]:
    """For each line (from 1; index 0 unused), whether the code from it on parses as it would after
    whatever precedes it: its first line that is neither blank nor a comment is at column 0 and does
    not continue a statement (``else:``, ``except:``)."""
    standalone = [True] * (len(lines) + 2)
    for number in range(len(lines), 0, -1):
        line = lines[number - 1]
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            standalone[number] = standalone[number + 1]
        else:
            standalone[number] = line[:1] not in (" ", "\t", ")", "]", "}") and not CONTINUES.match(line)
    return standalone


def _chunk_of(starts: list[int], lineno: int, total: int) -> tuple[int, int]:
    index = bisect.bisect_right(starts, lineno)
    first = starts[index - 1]
    return first, (starts[index] - 1 if index < len(starts) else total)


def _defined_in(lines: list[str]) -> tuple[str, ...]:
    names = (match.group(1) or match.group(2) for line in lines if (match := DEFINES.match(line)))
    return tuple(dict.fromkeys(names))


@contextmanager
def _no_collection() -> Iterator[None]:
    """Building a large syntax tree makes the garbage collector scan it again and again (half the time of
    `ast.parse`); a tree holds no reference cycles, so collection waits until it is built."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Reader:
    """The lines of one file as parsing proceeds: the blanked chunks, and what is already parsed."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.lines = text.split("\n")
        self.starts = _chunk_starts(self.lines)
        self.standalone = _standalone_starts(self.lines)
        #: Characters parsing may still read (PARSE_WORK).
        self.work_left = PARSE_WORK * len(text) + PARSE_WORK_FLOOR
        #: The first line not yet parsed for good, and the trees of the lines before it.
        self.base = 1
        self.parsed: list[ast.Module] = []
        self.dropped: list[Unreadable] = []

    def parse(self, first: int, last: int) -> tuple[ast.Module | None, int | None, str]:
        """The tree of lines first..last (numbered as in the file), or (None, the error's line or None,
        why)."""
        on_time()
        if self.work_left < 0:
            raise self.unreadable(
                "its cells that are not valid Python run into each other (brackets or strings left open in "
                "one after another), so reading the rest would take far more than a notebook takes"
            )
        region = self.lines[first - 1 : last]
        source = "\n".join(region)
        try:
            with _no_collection():
                tree = ast.parse(source)
        except SyntaxError as error:
            at = self._error_line(error, first, last)
            self._spend(first, at)
            reason = LINE_NUMBER.sub(lambda m: f"line {int(m.group(1)) + first - 1}", error.msg or "")
            return None, at, reason or "invalid syntax"
        except ValueError:
            nul = next((n for n, text in enumerate(region, start=first) if NUL in text), None)
            self._spend(first, nul or last)
            return None, nul, "a NUL byte, which is not text"
        except (RecursionError, MemoryError):
            self.work_left -= len(source)
            return None, None, "expressions nested too deeply for Python to read"
        self.work_left -= len(source)
        if first > 1:
            ast.increment_lineno(tree, first - 1)
        return tree, None, ""

    def _spend(self, first: int, last: int) -> None:
        """Count lines first..last as read: a parse that fails stops at its error, or near it."""
        self.work_left -= sum(len(line) + 1 for line in self.lines[first - 1 : max(first, last)])

    def _error_line(self, error: SyntaxError, first: int, last: int) -> int:
        hint = ON_LINE.search(error.msg or "")
        lineno = first - 1 + (int(hint.group(1)) if hint else (error.lineno or last - first + 1))
        # An error at the end of the text belongs to the last line above it that holds anything.
        lineno = min(lineno, last)
        while lineno > first and not self.lines[lineno - 1].strip():
            lineno -= 1
        return lineno

    def lineless_culprit(self) -> int | None:
        """The first line of the first chunk from `base` on that fails on its own without a line."""
        index = bisect.bisect_left(self.starts, self.base)
        for first in self.starts[index:]:
            last = _chunk_of(self.starts, first, len(self.lines))[1]
            tree, line, _ = self.parse(first, last)
            if tree is None and line is None:
                return first
        return None

    def unreadable(self, reason: str) -> IntakeError:
        return IntakeError(f"{self.filename} cannot be read as Python: {reason}.")

    def drop(self, first: int, last: int, lineno: int, reason: str) -> None:
        """Leave lines first..last out, blanked, noting why; IntakeError past MAX_UNREADABLE."""
        if len(self.dropped) >= MAX_UNREADABLE:
            raise self.unreadable(
                f"more than {MAX_UNREADABLE} of its parts are not valid Python, so the grader stopped "
                "reading it. Download the notebook again from Colab or Jupyter"
            )
        self.dropped.append(
            Unreadable(first, last, lineno, reason, _defined_in(self.lines[first - 1 : last]))
        )
        self.lines[first - 1 : last] = [""] * (last - first + 1)

    def settle(self, first: int, last: int) -> None:
        """After lines first..last were dropped: keep the lines before them for good, and parse from the
        line after them from now on, when both stand alone (the module's docstring says why)."""
        if not self.standalone[last + 1]:
            return
        if first > self.base:
            before, _, _ = self.parse(self.base, first - 1)
            if before is None:
                return
            self.parsed.append(before)
        self.base = last + 1

    def too_long(self) -> None:
        """Drop the chunk of every line longer than MAX_LINE_CHARS."""
        for number, line in enumerate(self.lines, start=1):
            if len(line) > MAX_LINE_CHARS:
                first, last = _chunk_of(self.starts, number, len(self.lines))
                reason = (
                    f"a line of {len(line):,} characters, longer than the {MAX_LINE_CHARS:,} the grader reads"
                )
                self.drop(first, last, number, reason)

    def too_deep(self, tree: ast.Module) -> ast.Module:
        """`tree` without its statements nested deeper than MAX_NESTING, each dropped with its lines."""
        kept = []
        for statement in tree.body:
            if _depth(statement) <= MAX_NESTING:
                kept.append(statement)
                continue
            first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
            reason = f"a statement nested more than {MAX_NESTING} levels deep, more than the grader reads"
            self.drop(first, statement.end_lineno or statement.lineno, statement.lineno, reason)
        tree.body = kept
        return tree


def _depth(node: ast.AST) -> int:
    """How deeply the tree under `node` nests (iteratively: the tree may be deeper than recursion goes)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current))
    return deepest


def parse_tolerant(text: str, filename: str) -> tuple[ast.Module, str, list[Unreadable]]:
    """The tree of every chunk that parses, the text it was parsed from, and the chunks left out."""
    reader = _Reader(text, filename)
    reader.too_long()
    total = len(reader.lines)
    while True:
        tree, line, reason = reader.parse(reader.base, total)
        if tree is not None:
            reader.parsed.append(tree)
            break
        if line is None:
            line = reader.lineless_culprit()
        if line is None:
            raise reader.unreadable(reason or "no part of it parses")
        first, last = _chunk_of(reader.starts, line, total)
        reader.drop(first, last, line, reason)
        reader.settle(first, last)
    module = ast.Module(body=[s for tree in reader.parsed for s in tree.body], type_ignores=[])
    return reader.too_deep(module), "\n".join(reader.lines), reader.dropped
