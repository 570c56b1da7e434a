"""The small graded checks of tests/core_checks, and the table they need: shared by the tests that grade
hostile or broken §1 files through the grader core."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.table import AssignmentTable, load_table

CORE_CHECKS = Path(__file__).parent / "core_checks"


def core_table(*names: str) -> AssignmentTable:
    """The table whose §1 also reads `names` (default: `answer` and `other`, which tests/core_checks
    calls): the grader runs only what the answers it reads reach."""
    table = load_table()
    section = table.sections[1]
    answers = (*section.answers, *(names or ("answer", "other")))
    sections = {**table.sections, 1: dataclasses.replace(section, answers=answers)}
    return dataclasses.replace(table, sections=sections)
