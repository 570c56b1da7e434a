"""Which of our own modules a piece of code needs: the import closure over the first-party packages.

Two places must know exactly which modules some code imports, and nothing more: the students'
checker (only what the public checks need ships) and the sandbox's staged copy of our code (only
what the student's process imports is copied where it can read it: grader/sandbox/staging.py).
Imports are read from the sources with `ast`, never by importing them. Modules named only in
strings (the drivers checks hand to the sandbox) are not imports: whoever needs them names them.
Nor are imports under ``if TYPE_CHECKING:``, which never run (the checks' interface,
grader/checks_api.py, is imported only there): neither the checker nor the sandbox needs them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from grader.assignment_home import ASSIGNMENT_DIR


@cache
def first_party() -> tuple[str, ...]:
    """The repository's own top-level packages: the engine, the assignment and what its table lists."""
    from grader.table import load_table

    return ("grader", ASSIGNMENT_DIR.name, *load_table().assignment.packages)


def module_file(name: str, root: Path) -> Path | None:
    """The source file of a first-party module or package under `root`, or None if there is none."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``): true only for mypy."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` (as ``ast.walk``) but those in the body of an ``if TYPE_CHECKING:``."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and _type_checking(node.test):
            pending += [node.test, *node.orelse]
        else:
            pending += ast.iter_child_nodes(node)
    return found


def imported_names(path: Path) -> set[str]:
    """First-party module names a source file may import at run time (an imported name may be a
    submodule); imports only a type checker reads (``if TYPE_CHECKING:``) are not among them."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in _run_time_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in first_party()}


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
