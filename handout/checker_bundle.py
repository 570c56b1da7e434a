"""The students' local checker: student_template/check.py, one file carrying the public grader.

What ships is computed, not listed by hand: the check files whose every graded test is public in the
assignment table, plus every first-party module that the checker, the sandbox and those checks import
(followed through imports, and through the `grader.drivers.*` names checks pass to the sandbox as
strings). Hidden checks, and modules only they use, never reach students. Besides Python, only the
assignment table, the results schema and the checks' pytest.ini ship: no data, no labels.

The zip inside check.py is reproducible (gradescope.package's writer), so rebuilding the handout
leaves check.py unchanged unless the grader changed.
"""

from __future__ import annotations

import ast
import base64
import io
import re
from collections.abc import Iterable
from pathlib import Path

from grader.table import load_table
from gradescope.package import write_reproducible_zip

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("grader", "tinygpt")
# Where the checker starts: its own logic, the runner and report it calls, the sandbox's two programs.
ENTRY_MODULES = (
    "grader.student_check.check",
    "grader.runner",
    "grader.report",
    "grader.sandbox.child",
    "grader.sandbox.launch",
)
RESOURCES = ("grader/assignment.toml", "grader/checks/pytest.ini", "grader/schemas/*.json")
CHECKS_DIR = "grader/checks"
LAUNCHER = "grader/student_check/launcher.py"
BUNDLE_PLACEHOLDER = 'BUNDLE = ""'
DRIVER_NAME = re.compile(r"\bgrader\.drivers\.\w+")


class BundleError(RuntimeError):
    """The checker cannot be built; the message says what to fix."""


def module_file(name: str, root: Path = REPO_ROOT) -> Path | None:
    """The source file of a first-party module or package, or None if `name` is not one."""
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
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(DRIVER_NAME.findall(node.value))
    return {name for name in names if name.split(".")[0] in FIRST_PARTY}


def graded_numbers(path: Path) -> set[str]:
    """The test numbers of the `@pytest.mark.graded("N")` markers in a check file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "graded"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def public_check_files(root: Path = REPO_ROOT) -> list[Path]:
    """Check files (and conftest.py files) that hold no hidden test."""
    public = {row.number for row in load_table().tests if row.visibility == "public"}
    chosen = []
    for path in sorted((root / CHECKS_DIR).glob("*.py")):
        numbers = graded_numbers(path)
        if numbers <= public and (numbers or path.name == "conftest.py"):
            chosen.append(path)
    return chosen


def _with_packages(name: str) -> Iterable[str]:
    """A module and every package above it (their __init__.py run on import)."""
    parts = name.split(".")
    return (".".join(parts[: end + 1]) for end in range(len(parts)))


def bundle_files(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Maps each path inside the checker's bundle to the repository file it copies."""
    files = {path.relative_to(root).as_posix(): path for path in public_check_files(root)}
    pending = list(ENTRY_MODULES)
    for path in files.values():
        pending += imported_names(path)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name, root)
        if path is None:
            continue
        files[path.relative_to(root).as_posix()] = path
        pending += [*_with_packages(name), *imported_names(path)]
    for pattern in RESOURCES:
        matches = sorted(root.glob(pattern))
        if not matches:
            raise BundleError(f"the checker needs {pattern}, which is missing")
        files.update({path.relative_to(root).as_posix(): path for path in matches})
    return files


def bundle_zip(root: Path = REPO_ROOT) -> bytes:
    """The bundle as reproducible zip bytes."""
    buffer = io.BytesIO()
    write_reproducible_zip(buffer, bundle_files(root))
    return buffer.getvalue()


def checker_source(root: Path = REPO_ROOT) -> str:
    """The text of check.py: the launcher with the bundle filled in."""
    launcher = (root / LAUNCHER).read_text(encoding="utf-8")
    if launcher.count(BUNDLE_PLACEHOLDER) != 1:
        raise BundleError(f"{LAUNCHER} must contain the line {BUNDLE_PLACEHOLDER!r} exactly once")
    encoded = base64.b64encode(bundle_zip(root)).decode("ascii")
    lines = "\n".join(encoded[start : start + 100] for start in range(0, len(encoded), 100))
    return launcher.replace(BUNDLE_PLACEHOLDER, f'BUNDLE = """\n{lines}\n"""')


def write_checker_bundle(dest: Path) -> Path:
    """Writes the checker into `dest` (the student template folder) as check.py; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "check.py"
    text = checker_source()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
