"""Make an exported notebook parseable Python, keeping every line where it was.

Exports hold lines that are not Python: Colab's "Download .py" keeps `!pip install …` and
`%matplotlib inline` as typed, nbconvert writes `get_ipython().system(…)`, and students leave
`torch.tril?` help lines behind. Each such line becomes `pass` at the same indentation, so the file
parses, blocks stay valid, and line numbers in messages still match the student's file. A `.ipynb`
is flattened to its code cells, with a map back to (cell, line) for messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CELL_MARKER = re.compile(r"^\s*#\s*(?:In\s*\[[^\]]*\]\s*:|%%)")
HELP_LINE = re.compile(r"^\s*(?:\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")
SHELL_ASSIGN = re.compile(r"^(\s*)([\w.]+(?:\s*,\s*[\w.]+)*)\s*=\s*(?:!|%|get_ipython\(\))")
# Cell magics whose body is still Python; any other cell magic (%%bash, %%writefile …) is not.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


class IntakeError(ValueError):
    """The file cannot be read as a notebook export; the message is for the student."""


@dataclass(frozen=True)
class Normalised:
    """Parseable source plus how to name a line of it in the student's own terms."""

    text: str
    filename: str
    cell_lines: tuple[tuple[int, int], ...] | None = None

    def where(self, lineno: int) -> str:
        if self.cell_lines and 0 < lineno <= len(self.cell_lines):
            cell, line = self.cell_lines[lineno - 1]
            return f"{self.filename}, cell {cell}, line {line}"
        return f"{self.filename}, line {lineno}"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def neutralise(text: str) -> str:
    """Replace shell, magic and help lines by `pass` (or `name = None`), line for line."""
    lines = text.split("\n")
    has_markers = any(CELL_MARKER.match(line) for line in lines)
    out: list[str] = []
    in_foreign_cell = False
    continuing = False
    for line in lines:
        stripped = line.strip()
        if CELL_MARKER.match(line):
            in_foreign_cell = False
            out.append(line)
            continue
        if in_foreign_cell:
            if not has_markers and not stripped:
                in_foreign_cell = False
            out.append("" if not stripped else f"# {line}")
            continue
        if continuing:
            # The rest of a shell line continued with a backslash: blank it, keep the line count.
            continuing = stripped.endswith("\\")
            out.append("")
            continue
        assign = SHELL_ASSIGN.match(line)
        indent = _indent(line)
        if stripped.startswith("%%"):
            magic = stripped[2:].split()[0] if stripped[2:].split() else ""
            in_foreign_cell = magic not in PYTHON_CELL_MAGICS
            out.append(f"{indent}pass")
        elif assign:
            out.append(f"{assign.group(1)}{assign.group(2)} = None")
            continuing = stripped.endswith("\\")
        elif stripped.startswith(("!", "%", "get_ipython()")) or HELP_LINE.match(line):
            out.append(f"{indent}pass")
            continuing = stripped.endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


def _notebook_source(raw: str, filename: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    try:
        notebook = json.loads(raw)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError):
        raise IntakeError(
            f"{filename} is not a valid Jupyter notebook (its JSON could not be read)."
        ) from None
    lines: list[str] = []
    origin: list[tuple[int, int]] = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        lines.append(f"# %% cell {index}")
        origin.append((index, 0))
        for number, line in enumerate(text.split("\n"), start=1):
            lines.append(line)
            origin.append((index, number))
    return "\n".join(lines), tuple(origin)


def normalise_file(path: Path) -> Normalised:
    """Read a `.py` or `.ipynb` export and return parseable source with line provenance."""
    raw = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if path.suffix.lower() == ".ipynb":
        text, origin = _notebook_source(raw, path.name)
        return Normalised(neutralise(text), path.name, origin)
    return Normalised(neutralise(raw), path.name)
