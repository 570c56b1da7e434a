"""A check cannot forget its registry entry: what it reads and runs is registered.

A name missing from the table's answers is dropped by the intake, so every student would be told it is not
defined; a public check's driver missing from PUBLIC_DRIVERS is not in the students' checker. (A §2 helper's
known bugs are no registry: its check declares them beside it and hands them over.) tests/registry_uses.py
reads each use from the checks' code; here each must be registered, so the omission fails `make test-fast`,
before any submission is graded.
"""

from __future__ import annotations

import importlib
import textwrap
from functools import cache
from pathlib import Path

import pytest
from check_files import CHECKS
from core_grading import write_checks
from registry_uses import Analysis, Resolved, analyse

from grader.table import load_table
from handout.checker_manifest import PUBLIC_DRIVERS

CHECK_FILES = sorted(CHECKS.glob("test_*.py"))


def fixtures() -> dict[str, int]:
    return {section.fixture: number for number, section in load_table().sections.items()}


@cache
def checks_analysis() -> Analysis:
    return analyse(CHECK_FILES, fixtures())


def missing_entries(analysis: Analysis) -> list[str]:
    """Every use whose registry lacks its entry, and every use that could not be read."""
    table = load_table()
    problems = list(analysis.unknown)
    for use in analysis.resolved:
        problems += _problems(use, table)
    return problems


def _problems(use: Resolved, table) -> list[str]:
    section = use.values["section"]
    answers = table.answers(section)
    names = list(use.values.get("uses", ()))
    problems = []
    if use.kind == "driver":
        module, _, function = use.values["name"].partition(":")
        if not hasattr(_module(module), function):
            problems.append(f"{use.where}: the driver {use.values['name']} does not exist")
        if table.test(use.test).visibility == "public" and module not in PUBLIC_DRIVERS:
            problems.append(f"{use.where}: public test {use.test} runs {module}, not in PUBLIC_DRIVERS")
    else:
        names.append(use.values["name"])
    problems += [
        f"{use.where}: `{name}` is not among §{section}'s answers in the table ([sections.{section}] "
        "answers, or the test row's answers)"
        for name in names
        if name not in answers
    ]
    return problems


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def test_every_registry_entry_the_checks_need_is_there() -> None:
    assert missing_entries(checks_analysis()) == []


def test_the_checks_uses_are_all_found() -> None:
    """The reading is not vacuous: every public driver is run by a public test, and each section's
    answers are read."""
    resolved = checks_analysis().resolved
    table = load_table()
    public_drivers = {
        use.values["name"].partition(":")[0]
        for use in resolved
        if use.kind == "driver" and table.test(use.test).visibility == "public"
    }
    assert public_drivers == set(PUBLIC_DRIVERS)
    read = {(use.values["section"], use.values["name"]) for use in resolved if use.kind == "answer"}
    assert {(1, "key141"), (1, "query132"), (2, "make_causal_mask"), (2, "self_attention")} <= read
    assert (3, "compute_accuracy") in read


def test_a_missing_entry_of_each_registry_is_named(tmp_path: Path) -> None:
    """A new check that reads an unlisted answer, runs a driver that does not exist and, in a public test,
    one the students' checker lacks; through helpers too."""
    check = write_checks(
        tmp_path / "checks",
        "new",
        """
        import pytest


        def _read(section, name):
            return section.get(name)


        @pytest.mark.graded("1.2.1")
        def test_public(a2s1):
            _read(a2s1, "query999")
            a2s1.run("a2.sections.s3.drivers.threshold:train_for_threshold", {})


        @pytest.mark.graded("2.1.1")
        def test_hidden(a2s2):
            a2s2.run("a2.sections.s2.drivers.nothing:here", {}, uses=("no_such_answer",))
        """,
    )
    problems = missing_entries(analyse([check], fixtures()))
    expected = [
        "`query999` is not among §1's answers",
        "public test 1.2.1 runs a2.sections.s3.drivers.threshold, not in PUBLIC_DRIVERS",
        "the driver a2.sections.s2.drivers.nothing:here does not exist",
        "`no_such_answer` is not among §2's answers",
    ]
    for words in expected:
        assert any(words in problem for problem in problems), (words, problems)


@pytest.mark.parametrize(
    "body",
    [
        "for name in ['query121']:\n    a2s1.get(name)",
        "name = 'query121'\nname = name.upper()\na2s1.get(name)",
    ],
    ids=["loop-variable", "reassigned-local"],
)
def test_a_name_that_cannot_be_read_is_reported(tmp_path: Path, body: str) -> None:
    check = write_checks(
        tmp_path / "checks",
        "new",
        "import pytest\n\n\n@pytest.mark.graded('1.2.1')\ndef test_public(a2s1):\n"
        + textwrap.indent(body, "    ")
        + "\n",
    )
    analysis = analyse([check], fixtures())
    assert analysis.resolved == [] and len(analysis.unknown) == 1, analysis
    assert "cannot be read from the code" in analysis.unknown[0]
