"""What ships part of this repository needs, and how it is packed: one module for both builders.

The students' checker (handout/) and the Gradescope zip (gradescope/) both ship a part of the grader.
Both must know exactly which of our modules some code imports, and nothing more (only what the public
checks need reaches students; only what the sandboxed process imports is readable by it in the
image), and both must pack files so that the same files always give the same bytes. Imports are read
from the sources with `ast`, never by importing them. Modules named only in strings (the drivers
checks hand to the sandbox) are not imports: whoever needs them names them.
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

FIRST_PARTY = ("grader", "tinygpt")


def module_file(name: str, root: Path) -> Path | None:
    """The source file of a first-party module or package under `root`, or None if there is none."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """First-party module names a source file may import (an imported name may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in FIRST_PARTY}


def _with_packages(name: str) -> list[str]:
    """A module and every package above it (their __init__.py run on import)."""
    parts = name.split(".")
    return [".".join(parts[: end + 1]) for end in range(len(parts))]


def import_closure(modules: Iterable[str], root: Path, leave_out: Iterable[str] = ()) -> set[Path]:
    """The source files of `modules` and of every first-party module they import, transitively.

    Modules in `leave_out` are neither included nor followed (optional imports a bundle withholds).
    """
    pending = list(modules)
    seen: set[str] = set(leave_out)
    files: set[Path] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name, root)
        if path is None:
            continue
        files.add(path)
        pending += [*_with_packages(name), *imported_names(path)]
    return files


# Zip entries: one fixed date and fixed modes, so a rebuild from the same files gives the same bytes.
EXECUTABLE = 0o755
REGULAR = 0o644
FIXED_DATE = (2024, 1, 1, 0, 0, 0)


def write_reproducible_zip(
    target: Path | BinaryIO, entries: dict[str, Path], executables: Iterable[str] = ()
) -> None:
    """Zips `entries` (name in the zip -> file) into `target`: sorted, one fixed date, fixed modes,
    so the same files always give the same bytes."""
    executable = set(executables)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = (0o100000 | (EXECUTABLE if name in executable else REGULAR)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes())
