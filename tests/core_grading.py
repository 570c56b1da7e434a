"""The small graded checks of tests/core_checks, and the table they need: shared by the tests that grade
hostile or broken §1 files through the grader core."""

from __future__ import annotations

import dataclasses
import textwrap
from functools import cache
from pathlib import Path

from check_files import graded_numbers

from grader.table import AssignmentTable, load_table

CORE_CHECKS = Path(__file__).parent / "core_checks"


@cache
def _core_numbers() -> set[str]:
    """The rows tests/core_checks checks, read once per test session."""
    return graded_numbers(CORE_CHECKS / "test_core_checks.py")


def core_table(*names: str) -> AssignmentTable:
    """The table of the rows tests/core_checks checks, whose §1 also reads `names` (default: `answer`
    and `other`, which those checks call): the grader runs only what the answers it reads reach, and
    refuses a selected row that no check grades."""
    table = load_table()
    section = table.sections[1]
    answers = (*section.answers, *(names or ("answer", "other")))
    sections = {**table.sections, 1: dataclasses.replace(section, answers=answers)}
    rows = tuple(row for row in table.tests if row.number in _core_numbers())
    return dataclasses.replace(table, sections=sections, tests=rows)


def write_checks(folder: Path, name: str, source: str) -> Path:
    """A folder of graded checks made for one test, holding ``source`` (dedented) as ``test_NAME.py``,
    whose path is returned. Give each test its own name: the in-process grading runs of one pytest
    session keep the check modules they imported by that name."""
    folder.mkdir()
    path = folder / f"test_{name}.py"
    path.write_text(textwrap.dedent(source))
    return path
