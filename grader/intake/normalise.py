"""Make an exported notebook parseable Python, keeping every line where it was.

Exports hold lines that are not Python: Colab's "Download .py" keeps `!pip install …` and
`%matplotlib inline` as typed, nbconvert writes `get_ipython().system(…)`, and students leave
`torch.tril?` help lines behind. Each such line becomes `pass` at the same indentation, so the file
parses, blocks stay valid, and line numbers in messages still match the student's file. Only a line
where a statement can start is touched: inside brackets, a string or after a backslash, a line that
begins with `!=` or `%` is ordinary Python and stays as it is. First, the code of cells run under a
Python cell magic (`%%time`) comes back from the form its exporter gave it (cell_magics.py); where
nbconvert wrote such a cell as one call, the lines below it move, and `file_lines` names each line
as the file numbers it.

A `.ipynb` is flattened to one text: each cell starts with a `# %%` marker line, code cells keep their
lines, markdown cells become comment lines (so their headings are found like a jupytext export's), and
a map leads back to (cell, line) for messages. Text is decoded by its byte-order mark or coding line,
else as UTF-8; bytes that are not text, and a notebook's characters that are not valid Unicode (lone
surrogates), are replaced and noted, never fatal. A file past the limits of grader/intake/limits.py
(its text, its cells) raises IntakeError; a markdown line longer than a code line may be is shortened.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import tokenize
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from grader.intake.cell_magics import expand_nbconvert_bodies, python_magic, restore_colab_bodies
from grader.intake.headings import Heading, find_headings, heading_before
from grader.intake.limits import MAX_CELLS, MAX_LINE_CHARS, MAX_SOURCE_CHARS, IntakeError, on_time

CELL_MARKER = re.compile(r"^\s*#\s*(?:In\s*\[[^\]]*\]\s*:|%%)")
HELP_LINE = re.compile(r"^\s*(?:\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")
SHELL_ASSIGN = re.compile(r"^(\s*)([\w.]+(?:\s*,\s*[\w.]+)*)\s*=\s*(?:!|%|get_ipython\(\))")
SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Cells named one by one in a note; more are counted.
CELLS_NAMED = 10
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
BOMS += ((codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF8, "utf-8-sig"))


@dataclass(frozen=True)
class Normalised:
    """Parseable source plus how to name a line of it in the student's own terms."""

    text: str
    filename: str
    cell_lines: tuple[tuple[int, int], ...] | None = None
    notes: tuple[str, ...] = ()
    headings: tuple[Heading, ...] = field(default=())
    code_cells: tuple[int, ...] = ()
    #: For a `.py` whose lines moved (cell_magics.py), the line of the file each line came from.
    file_lines: tuple[int, ...] | None = None

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def line_text(self, lineno: int, width: int = 100) -> str:
        """The line as the student typed it, shortened, with invisible characters made visible."""
        lines = self.lines
        line = lines[lineno - 1].strip()[: width * 4] if 0 < lineno <= len(lines) else ""
        line = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in line)
        return line if len(line) <= width else line[: width - 1] + "…"

    def where(self, lineno: int) -> str:
        """`HW2.py, line 143, under "Step 2: the loss"`, or the cell's line in a `.ipynb`."""
        heading = heading_before(self.headings, lineno)
        under = f'under "{heading.title}"' if heading else ""
        if self.cell_lines and 0 < lineno <= len(self.cell_lines):
            cell, line = self.cell_lines[lineno - 1]
            place = f"the cell {under}" if heading else f"code cell {self._code_cell_number(cell)}"
            return f"{self.filename}, line {line} of {place}"
        if self.file_lines and 0 < lineno <= len(self.file_lines):
            lineno = self.file_lines[lineno - 1]
        return f"{self.filename}, line {lineno}" + (f", {under}" if heading else "")

    def _code_cell_number(self, cell: int) -> int:
        """Code cells counted from 1, as a student counts them on screen (markdown cells skipped)."""
        return self.code_cells.index(cell) + 1 if cell in self.code_cells else cell


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


@dataclass
class _Scanner:
    """Tracks brackets, open strings and backslashes so we know where a statement can start."""

    depth: int = 0
    quote: str | None = None
    backslash: bool = False

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.backslash

    def feed(self, line: str) -> None:
        index, end = 0, len(line)
        comment = False
        while index < end:
            char = line[index]
            if self.quote:
                if char == "\\":
                    index += 2
                    continue
                if line.startswith(self.quote, index):
                    index += len(self.quote)
                    self.quote = None
                    continue
            elif char == "#":
                comment = True
                break
            elif char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char in "'\"":
                self.quote = line[index : index + 3] if line[index : index + 3] in ('"""', "'''") else char
                index += len(self.quote)
                continue
            index += 1
        if self.quote in ("'", '"'):
            self.quote = None
        self.backslash = not comment and self.quote is None and line.rstrip().endswith("\\")


def _shell_replacement(line: str) -> str | None:
    """What a shell, magic or help line becomes, or None if the line is Python."""
    stripped = line.strip()
    assign = SHELL_ASSIGN.match(line)
    if assign:
        return f"{assign.group(1)}{assign.group(2)} = None"
    if stripped.startswith(("!", "%", "get_ipython()")) or HELP_LINE.match(line):
        return f"{_indent(line)}pass"
    return None


def neutralise(text: str) -> str:
    """Replace shell, magic and help lines by `pass` (or `name = None`), line for line."""
    lines = text.split("\n")
    has_markers = any(CELL_MARKER.match(line) for line in lines)
    out: list[str] = []
    scanner = _Scanner()
    in_foreign_cell = continuing = False
    for line in lines:
        on_time()
        stripped = line.strip()
        if CELL_MARKER.match(line) and scanner.quote is None:
            # A new cell: whatever the last one left open (an unfinished `model = (`) ends here.
            scanner, in_foreign_cell, continuing = _Scanner(), False, False
            out.append(line)
        elif in_foreign_cell:
            in_foreign_cell = has_markers or bool(stripped)
            out.append(f"# {line}" if stripped else "")
        elif continuing:
            # The rest of a shell line continued with a backslash: blank it, keep the line count.
            continuing = stripped.endswith("\\")
            out.append("")
        elif scanner.at_statement_start and stripped.startswith("%%"):
            words = stripped[2:].split()
            in_foreign_cell = not python_magic(words[0] if words else "")
            out.append(f"{_indent(line)}pass")
        elif scanner.at_statement_start and (replacement := _shell_replacement(line)) is not None:
            out.append(replacement)
            continuing = stripped.endswith("\\")
        else:
            scanner.feed(line)
            out.append(line)
    return "\n".join(out)


def decode_source(raw: bytes, filename: str) -> tuple[str, tuple[str, ...]]:
    """The file's text, by its byte-order mark, its coding line or UTF-8; notes on what was replaced."""
    encoding = next((name for bom, name in BOMS if raw.startswith(bom)), None)
    if encoding is None:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError:
            encoding = "utf-8"
    try:
        text = raw.decode(encoding)
        notes: tuple[str, ...] = ()
    except (UnicodeDecodeError, LookupError) as error:
        text = raw.decode("utf-8", errors="replace")
        line = raw[: getattr(error, "start", 0)].count(b"\n") + 1
        notes = (
            f"{filename} is not UTF-8 text: from line {line} on, bytes that are not text were replaced "
            "by '\ufffd'. Download the notebook again from Colab or Jupyter if that line matters.",
        )
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text, notes


def _cell_text(cell: object, index: int, filename: str) -> tuple[str, str] | str:
    """(kind, source) of a notebook cell, or a note saying why the cell was skipped."""
    if not isinstance(cell, dict):
        return f"cell {index} of {filename} is not a notebook cell and was skipped."
    kind, source = cell.get("cell_type"), cell.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str) or kind not in ("code", "markdown", "raw"):
        return f"cell {index} of {filename} has no readable text (its entry is malformed) and was skipped."
    return str(kind), source


def _notebook_cells(raw: str, filename: str) -> list[object]:
    """The notebook's list of cells; IntakeError when there is none, or more than MAX_CELLS."""
    try:
        notebook = json.loads(raw)
    except json.JSONDecodeError as error:
        raise IntakeError(
            f"{filename} is not a valid Jupyter notebook: its JSON breaks at line {error.lineno}, column "
            f"{error.colno} ({error.msg}). Download the notebook again (File > Download > .ipynb)."
        ) from None
    except RecursionError:
        raise IntakeError(
            f"{filename} is not a valid Jupyter notebook: its JSON is nested too deeply."
        ) from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise IntakeError(
            f'{filename} is not a valid Jupyter notebook: it has no list of cells (its "cells" entry is '
            "missing or not a list). Download the notebook again (File > Download > .ipynb)."
        )
    if len(cells) > MAX_CELLS:
        raise IntakeError(
            f"{filename} has {len(cells):,} cells, more than the {MAX_CELLS:,} the grader reads in a "
            "notebook (the assignment's notebooks have about a hundred). Upload the assignment's notebook."
        )
    return cells


@dataclass(frozen=True)
class _Flat:
    """A notebook as one text: where each line came from, which cells hold code, what was skipped."""

    text: str
    origin: tuple[tuple[int, int], ...]
    code_cells: tuple[int, ...]
    notes: tuple[str, ...]


def _flatten_notebook(raw: str, filename: str) -> _Flat:
    lines: list[str] = []
    origin: list[tuple[int, int]] = []
    code_cells: list[int] = []
    skipped: list[str] = []
    for index, cell in enumerate(_notebook_cells(raw, filename), start=1):
        on_time()
        read = _cell_text(cell, index, filename)
        if isinstance(read, str):
            skipped.append(read)
            continue
        kind, source = read
        if kind == "code":
            code_cells.append(index)
        lines.append(f"# %% cell {index}" if kind == "code" else f"# %% [{kind}] cell {index}")
        origin.append((index, 0))
        for number, line in enumerate(source.split("\n"), start=1):
            # A markdown line is never code: shortened, it cannot cost its cell.
            lines.append(line if kind == "code" else f"# {line}"[:MAX_LINE_CHARS].rstrip())
            origin.append((index, number))
    notes = skipped[:CELLS_NAMED]
    if len(skipped) > CELLS_NAMED:
        notes.append(
            f"{len(skipped) - CELLS_NAMED:,} more cells of {filename} were skipped for the same reasons."
        )
    return _Flat("\n".join(lines), tuple(origin), tuple(code_cells), tuple(notes))


def _checked(text: str, filename: str) -> tuple[str, tuple[str, ...]]:
    """The text to read, within MAX_SOURCE_CHARS, with lone surrogates replaced; a note if there were."""
    if len(text) > MAX_SOURCE_CHARS:
        raise IntakeError(
            f"{filename} holds {len(text):,} characters of code and text, more than the "
            f"{MAX_SOURCE_CHARS:,} the grader reads (the assignment's notebooks have under 20,000). "
            "Upload the assignment's notebook as Colab or Jupyter downloads it."
        )
    if not SURROGATE.search(text):
        return text, ()
    note = (
        f"{filename} holds characters that are not valid Unicode (lone surrogates); each was replaced "
        "by '\ufffd'. Download the notebook again from Colab or Jupyter if that matters."
    )
    return SURROGATE.sub("\ufffd", text), (note,)


def _moved(headings: tuple[Heading, ...], origins: tuple[int, ...]) -> tuple[Heading, ...]:
    """The headings of the file at the lines they moved to (`origins`: each line's line in the file)."""
    first: dict[int, int] = {}
    for lineno, origin in enumerate(origins, start=1):
        first.setdefault(origin, lineno)
    return tuple(replace(heading, lineno=first.get(heading.lineno, heading.lineno)) for heading in headings)


def normalise_file(path: Path) -> Normalised:
    """Read a `.py` or `.ipynb` export and return parseable source with line provenance."""
    raw, notes = decode_source(path.read_bytes(), path.name)
    if path.suffix.lower() != ".ipynb":
        raw, _ = _checked(raw, path.name)
        text, origins = expand_nbconvert_bodies(restore_colab_bodies(raw))
        text, _ = _checked(text, path.name)
        headings = _moved(find_headings(raw), origins)
        moved = origins if len(origins) != raw.count("\n") + 1 else None
        return Normalised(neutralise(text), path.name, None, notes, headings, file_lines=moved)
    flat = _flatten_notebook(raw, path.name)
    text, invalid = _checked(flat.text, path.name)
    headings = find_headings(text)
    return Normalised(
        neutralise(text), path.name, flat.origin, notes + invalid + flat.notes, headings, flat.code_cells
    )
