"""Cells run under a Python cell magic (`%%time`, `%%capture` …), as each exporter writes them.

A notebook cell that starts with `%%time` is still Python: the magic only times it. Each exporter
writes such a cell in its own way, and in two of them the cell's code no longer looks like code:

- Colab's "Download .py" puts `# Commented out IPython magic to ensure Python compatibility.` at the
  top of the cell and comments out the magic *and the whole body* (`# %%time`, `# query = …`,
  a blank line as `# `). Read as it is, an answer defined in that cell would vanish.
- `jupyter nbconvert --to script` turns the cell into one call,
  `get_ipython().run_cell_magic('time', '', 'query = …\\n')`, whose body is a string.
- jupytext comments out the magic line only (`# %%time`) and leaves the body as code: nothing to do.

Here the bodies come back as code. Colab's commented body is uncommented line for line, so every
line stays where it was. nbconvert's one-line call becomes the body's lines; the lines after it move
down, and `origins` maps every line back to the line of the file it came from, for messages.
A cell magic whose body is not Python (`%%bash`, `%%writefile`, `%%html` …) is left as it is: the
normaliser then drops it.
"""

from __future__ import annotations

import ast
import re

#: Cell magics whose body is Python run by the kernel as usual.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
COLAB_HEADER = "# Commented out IPython magic to ensure Python compatibility."
COMMENTED_MAGIC = re.compile(r"^#\s?%%(\w+)")
NBCONVERT_CALL = re.compile(r"^(\s*)get_ipython\(\)\.run_cell_magic\((.*)\)\s*$")


def python_magic(word: str) -> bool:
    """Whether `%%word` runs its cell's body as Python."""
    return word in PYTHON_CELL_MAGICS


def _uncomment(line: str) -> str:
    return line[2:] if line.startswith("# ") else line[1:]


def restore_colab_bodies(text: str) -> str:
    """Uncomment the bodies of Colab's commented-out Python cell magics, keeping every line in place.

    The body is every comment line after the `# %%time` line, up to the first line that is not a
    comment (Colab separates cells by a blank line, and writes a blank line of a body as `# `).
    """
    lines = text.split("\n")
    index = 0
    while index < len(lines) - 1:
        magic = COMMENTED_MAGIC.match(lines[index + 1])
        if lines[index].strip() != COLAB_HEADER or not magic or not python_magic(magic.group(1)):
            index += 1
            continue
        body = index + 2
        while body < len(lines) and lines[body].startswith("#"):
            lines[body] = _uncomment(lines[body])
            body += 1
        index = body
    return "\n".join(lines)


def _nbconvert_body(line: str) -> tuple[str, str] | None:
    """(indent, body) of an nbconvert `run_cell_magic` call of a Python cell magic, else None."""
    match = NBCONVERT_CALL.match(line)
    if not match:
        return None
    try:
        arguments = ast.literal_eval(f"({match.group(2)},)")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if len(arguments) != 3 or not all(isinstance(part, str) for part in arguments):
        return None
    if not python_magic(arguments[0]):
        return None
    return match.group(1), arguments[2]


def expand_nbconvert_bodies(text: str) -> tuple[str, tuple[int, ...]]:
    """The text with nbconvert's Python cell-magic calls replaced by their bodies, and each line's origin.

    `origins[i]` is the line of `text` (counted from 1) that line `i + 1` of the result came from.
    """
    out: list[str] = []
    origins: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        found = _nbconvert_body(line) if "run_cell_magic" in line else None
        body = found[1].rstrip("\n").split("\n") if found else [line]
        indent = found[0] if found else ""
        out += [f"{indent}{part}" if part else part for part in body]
        origins += [number] * len(body)
    return "\n".join(out), tuple(origins)
