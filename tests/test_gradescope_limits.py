"""The table's time limits fit Gradescope's: every test may use its whole timeout and the grader still
writes its results before run_autograder stops it, well before Gradescope's own limit."""

from __future__ import annotations

import pytest

from grader.table import courses, load_table
from gradescope.autograde import GRADER_TIMEOUT, GRADESCOPE_TIMEOUT


@pytest.mark.parametrize("course", [None, *courses()])
def test_every_timeout_together_fits_within_the_grader_stop(course: str | None) -> None:
    table = load_table(course=course)
    tests = sum(row.timeout for row in table.tests)
    # Each section's code is loaded in its own child before its first test, after the intake step.
    loads = len(table.sections) * table.sandbox.load_timeout + table.sandbox.intake_timeout
    assert tests + loads <= GRADER_TIMEOUT, (
        f"the per-test timeouts ({tests:g} s), the intake and the section loads ({loads:g} s) exceed the "
        f"grader's stop at {GRADER_TIMEOUT} s: lower timeouts in a2/assignment.toml"
    )
    assert GRADER_TIMEOUT < GRADESCOPE_TIMEOUT <= 40 * 60, "Gradescope allows 40 minutes at most"
