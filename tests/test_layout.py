"""The code's layout keeps its promises: each section's support stays in its own package, packages
reach into each other only where the design says, no object's private parts are read from outside,
and a name means one thing.

These rules are what lets a contributor change one section, or the Gradescope packaging, without
reading the rest; each test names the offending file and line.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from grader.assignment_home import ASSIGNMENT_DIR
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("grader", "a2", "gradescope", "handout")
#: The engine: what grades any assignment. It reads an assignment only through what its table declares.
ENGINE = ("grader", "gradescope")
SECTIONS = REPO / "a2" / "sections"
#: Names every CLI command module defines by the same protocol (grader/cli.py calls them).
PROTOCOL_NAMES = {"main", "register", "run"}
#: Private names of other libraries that have no public spelling.
FOREIGN_PRIVATE = {("os", "_exit"), ("argparse", "_SubParsersAction"), ("torch", "_C")}


def sources(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (REPO / package).rglob("*.py"))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth of the file (imports inside functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def offending_imports(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{line}: imports {module}"
        for path in paths
        for line, module in imported_modules(path)
        if any(module == prefix or module.startswith(f"{prefix}.") for prefix in forbidden)
    ]


@pytest.mark.parametrize("section", sorted(path.name for path in SECTIONS.iterdir() if path.is_dir()))
def test_a_section_package_uses_no_other_section_and_no_check(section: str) -> None:
    others = tuple(
        f"a2.sections.{path.name}" for path in SECTIONS.iterdir() if path.is_dir() and path.name != section
    )
    assert others, "the layout has more than one section"
    assert offending_imports(sources(f"a2/sections/{section}"), (*others, "a2.checks")) == []


def test_drivers_import_nothing_of_the_trusted_side() -> None:
    """A driver runs in the student's process: only what staging copies there may be imported."""
    drivers = sorted(SECTIONS.glob("*/drivers/*.py"))
    assert len(drivers) >= 4
    trusted = ("grader.sandbox", "grader.session", "grader.plugin", "a2.checks", "grader.grading_run")
    assert offending_imports(drivers, trusted) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("grader", ("gradescope", "handout")),
        ("handout", ("gradescope",)),
        ("gradescope", ("grader.batch", "a2.checks")),
    ],
)
def test_packages_reach_each_other_only_downwards(package: str, forbidden: tuple[str, ...]) -> None:
    """The grader stands alone; the students' material never depends on the Gradescope image; the
    image's scripts use the grader's public entry points, not the class regrade or the checks."""
    assert offending_imports(sources(package), forbidden) == []


def test_no_object_private_attribute_is_read_from_outside() -> None:
    reads = []
    for path in sources(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")) or node.attr.startswith(
                "__"
            ):
                continue
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if owner not in ("self", "cls") and (owner, node.attr) not in FOREIGN_PRIVATE:
                reads.append(f"{path.relative_to(REPO)}:{node.lineno}: {owner or '…'}.{node.attr}")
    assert reads == []


def test_a_top_level_name_means_one_thing() -> None:
    """Public names only: a module's private helpers are its own business."""
    defined: dict[str, list[str]] = defaultdict(list)
    for path in sources(*PACKAGES):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name[0] != "_"
            ):
                defined[node.name].append(f"{path.relative_to(REPO)}:{node.lineno}")
    repeated = {
        name: where for name, where in defined.items() if len(where) > 1 and name not in PROTOCOL_NAMES
    }
    assert repeated == {}


def test_module_names_are_unique_outside_the_parallel_section_packages() -> None:
    """``a2/sections/s1/oracle.py`` and ``s2/oracle.py`` play the same part for two sections;
    elsewhere two modules of one name (two ``runner.py``) mean two different things."""
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sources(*PACKAGES):
        if path.name not in ("__init__.py", "__main__.py") and SECTIONS not in path.parents:
            seen[path.name].append(str(path.relative_to(REPO)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}


def test_the_slow_list_names_tests_that_exist() -> None:
    """A renamed test module or test would silently fall back into `make test-fast`."""
    from conftest import SLOW_MODULES, SLOW_TESTS

    tests = REPO / "tests"
    stale = [module for module in SLOW_MODULES if not (tests / module).is_file()]
    for entry in SLOW_TESTS:
        module, _, function = entry.partition("::")
        path = tests / module
        if not path.is_file() or f"def {function}(" not in path.read_text(encoding="utf-8"):
            stale.append(entry)
    assert stale == []


def engine_files() -> list[Path]:
    """Every text file of the engine: its modules, and the Gradescope image's scripts."""
    return sorted(
        path
        for package in ENGINE
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def assignment_words() -> set[str]:
    """What the assignment's table declares, which the engine must never spell: its title, notebooks
    and their fixtures, answers, test numbers, and the packages of its code."""
    table = load_table()
    words = {table.title, ASSIGNMENT_DIR.name + ".", ASSIGNMENT_DIR.name + "/", *table.assignment.packages}
    for section in table.sections.values():
        words |= {section.file, section.fixture, *section.answers, section.old_name, *section.old_name_means}
    words |= {row.number for row in table.tests}
    return {word for word in words if word}


def test_the_engine_imports_nothing_of_the_assignment() -> None:
    assignment = (ASSIGNMENT_DIR.name, *load_table().assignment.packages)
    assert offending_imports(sources(*ENGINE), assignment) == []


def test_the_engine_names_nothing_the_assignment_declares() -> None:
    """A search of the engine for the assignment's words finds none: the engine is the same for any
    assignment (tests/test_toy_assignment.py grades a second one with it)."""
    words = sorted(assignment_words(), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, words)) + r")(?![\w])", re.IGNORECASE)
    found = [
        f"{path.relative_to(REPO)}:{number}: {match.group(0)}"
        for path in engine_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        for match in pattern.finditer(line)
    ]
    assert found == []
