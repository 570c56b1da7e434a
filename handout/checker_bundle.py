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
from pathlib import Path

from grader.import_closure import import_closure, imported_names
from grader.table import load_table
from gradescope.package import write_reproducible_zip

REPO_ROOT = Path(__file__).resolve().parent.parent
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


class BundleError(RuntimeError):
    """The checker cannot be built; the message says what to fix."""


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


def bundle_files(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Maps each path inside the checker's bundle to the repository file it copies."""
    checks = public_check_files(root)
    modules = [*ENTRY_MODULES, *(name for path in checks for name in imported_names(path))]
    files = {path.relative_to(root).as_posix(): path for path in [*checks, *import_closure(modules, root)]}
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
