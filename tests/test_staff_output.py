"""What the staff read after a run: a summary first (course, profile, score, confinement, internal
errors with their traceback), one line per test, and the log condensed; warnings from the student's
code counted, not dumped, and the full log left complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grader.commands.staff_output import condense, staff_report
from grader.results import CheckOutcome, build_results
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "submissions" / "a2s1"
# What an answer's code prints and warns is counted in the staff output, not dumped. (LaTeX in a
# student's strings no longer warns: the kept code is rewritten, escapes and all, before it runs.)
NOISY = """
import warnings


def labelled(vector):
    print("scaling the query")
    warnings.warn("first of the student's warnings")
    warnings.warn("second of the student's warnings")
    warnings.warn("third of the student's warnings")
    return vector


query121 = labelled(query121)
"""

LOG = """\
2024-02-09 10:00:00,000 INFO grading seed 7 (never shown to students)
2024-02-09 10:00:01,000 INFO output of the A2S1.py process:
hello
<unknown>:3: SyntaxWarning: invalid escape sequence '\\a'
2024-02-09 10:00:02,000 ERROR internal error in test 1.2.2 (test_s1_public.py::test_query122):
Traceback (most recent call last):
  File "a2/checks/test_s1_public.py", line 9, in test_query122
RuntimeError: broken on purpose
2024-02-09 10:00:03,000 INFO checks finished (pytest exit code 1):
FF
___ test_query121 ___
a very long traceback of an expected failure
"""


def test_internal_errors_lead_with_their_traceback_and_expected_failures_are_one_line() -> None:
    rows = load_table().select({1})
    outcomes = {"1.2.2": CheckOutcome(False, "The grader hit an internal error", status="internal error")}
    results = build_results(rows, outcomes, "graded", 1)
    results["extra_data"] = {
        "course": "CSE 517",
        "profile": "offline",
        "confinement": {"section 1": {"a": 1}},
    }
    report = staff_report(results, LOG, "/x/results.log", "THE SCORE TABLE")
    lines = report.splitlines()
    assert lines[0] == "== For the staff: CSE 517, profile 'offline', score 0/10 + 0 extra credit (of 5) =="
    assert 'section 1 confinement: {"a": 1}' in lines
    internal = report.index("INTERNAL ERRORS (ours, not the student's): tests ")
    assert report.index("RuntimeError: broken on purpose") > internal > report.index("confinement")
    assert report.index("THE SCORE TABLE") > report.index("RuntimeError")
    assert "a very long traceback" not in report and "hello" not in report
    assert "checks finished (pytest exit code 1); pytest's report: 3 lines, 0 warnings" in report
    assert "output of the A2S1.py process: 2 lines, 1 of them warnings" in report
    assert (
        "the student's code: 2 lines printed, 1 warnings (not shown; the full log is /x/results.log)"
        in report
    )


def test_escape_sequences_in_the_log_never_reach_the_terminal() -> None:
    condensed = condense("2024-02-09 10:00:00,000 INFO A2S1.py: heading \x1b]52;c;ZXZpbA==\x07 raised\n")
    assert condensed.lines == ["2024-02-09 10:00:00,000 INFO A2S1.py: heading ? raised"]
    assert not any(char in "".join(condensed.lines) for char in "\x1b\x07")


def test_grade_prints_the_summary_and_counts_the_students_warnings_not_showing_them(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "A2S1.py").write_text((CORPUS / "correct_colab.py").read_text() + NOISY)
    command = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        str(submission),
        "--results",
        str(tmp_path / "r.json"),
    ]
    command += ["--sections", "1", "--course", "517"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    first = finished.stdout.splitlines()[0]
    assert first == "== For the staff: CSE 517, profile 'offline', score 15/15 =="
    assert "internal errors: none" in finished.stdout and "3 warnings (not shown" in finished.stdout
    assert "student's warnings" not in finished.stdout
    assert "third of the student's warnings" in (tmp_path / "r.log").read_text(), "the full log keeps them"
    assert "total" in finished.stdout and "(CSE 517)" in finished.stdout
