"""The leak scan of the students' checker: nothing hidden, no solution, no data reaches students.

It reads the bundle back out of the built check.py, as a student could, and scans every file; and it
holds handout/checker_manifest.py to exactly what the public checks need.
"""

from __future__ import annotations

import ast
import base64
import io
import keyword
import re
import zipfile
from pathlib import Path

import pytest
from check_files import CHECKS, graded_numbers

from grader.import_closure import import_closure, imported_names
from grader.packaged_course import COURSE_FILE
from grader.table import load_table
from handout.checker_bundle import checker_source
from handout.checker_manifest import ENTRY_MODULES, PUBLIC_DRIVERS, SHIPPED_FILES, WITHHELD
from handout.markers import solution_lines

REPO = Path(__file__).resolve().parent.parent
# A solution line made of fewer names than this (`model.eval()`, `loss.backward()`,
# `with torch.no_grad():`, `for batch in dataloader:`) is an idiom every PyTorch program has and the
# handout's text names; it identifies no solution, and the checks' messages may well quote it.
MIN_SOLUTION_NAMES = 3
ALLOWED_SUFFIXES = {".py", ".toml", ".ini", ".json"}


def names_in(code: str) -> set[str]:
    return {name for name in re.findall(r"[A-Za-z_]\w*", code) if not keyword.iskeyword(name)}


@pytest.fixture(scope="module")
def check_py() -> str:
    return checker_source(REPO, "447")


@pytest.fixture(scope="module")
def bundle(check_py: str) -> dict[str, str]:
    """Every file of the bundle embedded in check.py, by name."""
    assignments = [node for node in ast.parse(check_py).body if isinstance(node, ast.Assign)]
    encoded = next(node.value.value for node in assignments if node.targets[0].id == "BUNDLE")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded))) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_no_hidden_check_ships_and_every_public_one_does(bundle: dict[str, str], tmp_path: Path) -> None:
    table = load_table()
    hidden = {row.number for row in table.tests if row.visibility == "hidden"}
    public = {row.number for row in table.tests if row.visibility == "public"}
    shipped: set[str] = set()
    for name, text in bundle.items():
        if name.endswith(".py"):
            (tmp_path / "scan.py").write_text(text)
            shipped |= graded_numbers(tmp_path / "scan.py")
    assert not shipped & hidden, f"hidden tests in the bundle: {sorted(shipped & hidden)}"
    assert shipped == public, f"public tests the checker cannot run: {sorted(public - shipped)}"
    hidden_files = [path.name for path in CHECKS.glob("*.py") if graded_numbers(path) & hidden]
    assert hidden_files and not [name for name in bundle if Path(name).name in hidden_files]


def test_no_solution_line_and_no_answer_definition_ships(bundle: dict[str, str], check_py: str) -> None:
    texts = {**bundle, "check.py": check_py}
    leaks = [
        f"{solution.path}:{solution.line} `{solution.code}` in {name}"
        for source in sorted((REPO / "reference").glob("*.py"))
        for solution in solution_lines(source.read_text(encoding="utf-8"), source.name)
        if len(names_in(solution.code)) >= MIN_SOLUTION_NAMES
        for name, text in texts.items()
        if solution.code in text
    ]
    assert not leaks, "solution lines in the checker:\n" + "\n".join(leaks)
    answers = {answer for section in load_table().sections.values() for answer in section.answers}
    definitions = [
        f"{name} defines {match}"
        for name, text in bundle.items()
        for match in re.findall(r"^\s*(?:def|class)\s+(\w+)", text, flags=re.MULTILINE)
        if match in answers
    ]
    assert not definitions, "answer functions implemented in the checker: " + ", ".join(definitions)


def test_no_data_or_labels_ship(bundle: dict[str, str]) -> None:
    strays = [name for name in bundle if Path(name).suffix not in ALLOWED_SUFFIXES and name != COURSE_FILE]
    assert not strays, f"non-code files in the checker: {strays}"
    json_files = [name for name in bundle if name.endswith(".json")]
    assert all(name.startswith("grader/schemas/") for name in json_files), json_files
    assert not [name for name in bundle if ".cache" in name or "/data/" in name]


def public_check_files() -> set[Path]:
    """The check files whose every graded test is public in the table."""
    public = {row.number for row in load_table().tests if row.visibility == "public"}
    return {path for path in CHECKS.glob("*.py") if (numbers := graded_numbers(path)) and numbers <= public}


def test_the_bundle_is_exactly_the_manifest_and_names_its_course(bundle: dict[str, str]) -> None:
    assert sorted(bundle) == sorted([*SHIPPED_FILES, COURSE_FILE])
    assert bundle[COURSE_FILE] == "447\n"


def test_the_manifest_ships_what_the_public_checks_need_and_nothing_more() -> None:
    checks = public_check_files()
    starts = [*ENTRY_MODULES, *PUBLIC_DRIVERS, *(name for path in checks for name in imported_names(path))]
    closure = import_closure(starts, REPO, leave_out=WITHHELD)
    needed = {path.relative_to(REPO).as_posix() for path in checks | closure}
    shipped = {name for name in SHIPPED_FILES if name.endswith(".py")}
    assert not needed - shipped, f"add to handout/checker_manifest.py: {sorted(needed - shipped)}"
    assert not shipped - needed, f"nothing public needs these; drop them: {sorted(shipped - needed)}"


def test_withheld_modules_are_optional_where_shipped_code_imports_them(bundle: dict[str, str]) -> None:
    for name in WITHHELD:
        assert f"{name.replace('.', '/')}.py" not in bundle
        importers = [path for path, text in bundle.items() if path.endswith(".py") and name in text]
        assert importers, f"{name} is withheld but no shipped module imports it: drop it from WITHHELD"
        for path in importers:
            assert "except ModuleNotFoundError" in bundle[path], f"{path} must do without {name}"
