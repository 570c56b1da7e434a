"""'Internal error' means ours, and only ours, over every check (grader/reference_rerun.py).

Every check reads the student's values through its section (``get``, ``call``, ``run``). Here those
reads raise what no check expects (an exception of the trusted side computing with a value), once for
the submission only and once for the reference solution too. The rule must hold for every check of the
table: the first run fails each test with "your code returned something this check cannot use", never
an internal error; the second reports each as an internal error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import FAILED, INTERNAL_ERROR
from grader.grading_run import RunOptions, grade_submission
from grader.plugin import INTERNAL_ERROR as INTERNAL_ERROR_MESSAGE
from grader.reference_rerun import REFERENCE_DIR
from grader.results import validate
from grader.student_section import StudentSection
from grader.table import load_table

CRASH = "the trusted side cannot compute with this value"
READS = ("get", "call_detailed", "run")


def crash_on_reads(monkeypatch: pytest.MonkeyPatch, reference_too: bool) -> None:
    """Make every read of a student value raise RuntimeError (on the reference's too, if asked)."""
    originals = {name: getattr(StudentSection, name) for name in READS}

    def crashing(name: str):
        def read(self: StudentSection, *args, **kwargs):
            if self.session.uploaded_dir == REFERENCE_DIR and not reference_too:
                return originals[name](self, *args, **kwargs)
            raise RuntimeError(CRASH)

        return read

    for name in READS:
        monkeypatch.setattr(StudentSection, name, crashing(name))


def grade_reference_copy(tmp_path: Path, sections: set[int]) -> dict[str, dict]:
    submission = tmp_path / "submission"
    submission.mkdir()
    for number in sections:
        stem = load_table().sections[number].file
        shutil.copy(REFERENCE_DIR / f"{stem}.py", submission / f"{stem}.py")
    results = grade_submission(RunOptions(submission, tmp_path / "results.json", sections=sections))
    validate(results)
    return {test["number"]: test for test in results["tests"]}


def _sections():
    """§1 grades in seconds; §2 and §3 run the reference's whole section (training included)."""
    return [1, pytest.param(2, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)]


@pytest.mark.parametrize("section", _sections())
def test_a_check_that_passes_on_the_reference_blames_the_student_s_value(tmp_path, monkeypatch, section):
    crash_on_reads(monkeypatch, reference_too=False)
    tests = grade_reference_copy(tmp_path, {section})
    numbers = [row.number for row in load_table().tests if row.section == section]
    assert sorted(tests) == sorted(numbers)
    for number in numbers:
        test = tests[number]
        assert test["status"] == "failed" and test["extra_data"]["status"] == FAILED, number
        assert test["output"].startswith(
            f"Your code returned something this check cannot use: RuntimeError: {CRASH}"
        ), number


def test_a_check_that_fails_on_the_reference_too_is_an_internal_error(tmp_path, monkeypatch):
    crash_on_reads(monkeypatch, reference_too=True)
    tests = grade_reference_copy(tmp_path, set(load_table().sections))
    for number, test in tests.items():
        assert test["extra_data"]["status"] == INTERNAL_ERROR, number
        assert test["output"].startswith(INTERNAL_ERROR_MESSAGE), number


def test_without_a_reference_solution_an_unexpected_exception_stays_ours(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.reference_rerun.REFERENCE_DIR", tmp_path / "nowhere")
    crash_on_reads(monkeypatch, reference_too=False)
    tests = grade_reference_copy(tmp_path, {1})
    assert {test["extra_data"]["status"] for test in tests.values()} == {INTERNAL_ERROR}
