"""Reads each submission's results.json into one row of grades, with a status that describes the grade.

A status says what the grade is, not how the grading process ended: a run that wrote a valid
results.json has a grade, and its total is in every CSV, whatever the process's exit status. Only two
statuses carry no grade, and a rerun grades them again (`--retry`, both by default):

- `timeout`: the batch stopped the grading run at its `--timeout`, before it could grade;
- `internal grader error`: ours, not the student's: results.json is missing or invalid, or a test of
  it says "internal error" (a check of ours failed, or the grader's setup did, such as a missing
  model cache or a GPU profile on a machine without one).

Every other status is a grade, and tells apart what an instructor handles differently:

- `ok`: graded (whatever it scored);
- `no file`: none of the graded notebooks was in the submission;
- `untouched template`: nothing passed and every test met an unanswered TODO or a missing file;
- `student error`: a whole section could not run (a file that does not parse, code that crashes,
  exits or hangs while loading), or nothing passed and the student's code failed somewhere.

A submission whose grading did not finish keeps its row, with empty scores and its status, so nobody
silently drops out of the gradebook.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import errors
from grader.batch.discovery import Submission, Submitter
from grader.batch.pool import RESULTS_FILE, RunOutcome, read_outcome, submission_dir
from grader.table import TestRow

OK = "ok"
NO_FILE = "no file"
UNTOUCHED = "untouched template"
STUDENT_ERROR = "student error"
TIMEOUT = "timeout"
GRADER_ERROR = "internal grader error"
STATUSES = (OK, NO_FILE, UNTOUCHED, STUDENT_ERROR, TIMEOUT, GRADER_ERROR)
# The statuses that carry no grade, by the names `--retry` takes.
RETRYABLE = {"timeout": TIMEOUT, "internal": GRADER_ERROR}
# Where the grader's integrity checks record a suspicion: results.json's `extra_data`, at the top
# level or in a test's entry (hidden from students).
INTEGRITY_KEY = "integrity"
UNANSWERED = {errors.NO_FILE, errors.NOT_IMPLEMENTED}
ANONYMOUS = Submitter("", "", "")
SECTION_BROKEN = {errors.STUDENT_ERROR, errors.TIMEOUT}


@dataclass(frozen=True)
class ScoredTest:
    """One test of one submission, as its results.json reports it."""

    score: float
    passed: bool
    output: str
    status: str


@dataclass(frozen=True)
class Results:
    """What the gradebook reads from one results.json."""

    total: float = 0.0
    tests: dict[str, ScoredTest] = field(default_factory=dict)
    integrity: str = ""
    output: str = ""
    #: Constructs the grader noted where they cost nothing (code no answer reaches, `globals()` …).
    noted: str = ""


@dataclass(frozen=True)
class GradeRow:
    """Everything the CSV files and the report know about one submission."""

    submission: Submission
    outcome: RunOutcome
    status: str
    results: Results = Results()
    extra_credit_tests: frozenset[str] = frozenset()

    @property
    def tests(self) -> dict[str, ScoredTest]:
        return self.results.tests

    @property
    def people(self) -> tuple[Submitter, ...]:
        """Each submitter, or one anonymous entry when the export names nobody (a row is still due)."""
        return self.submission.submitters or (ANONYMOUS,)

    @property
    def graded(self) -> bool:
        """Whether the scores are a grade (for a timeout or our own failure they are not)."""
        return self.status not in (TIMEOUT, GRADER_ERROR)

    @property
    def total(self) -> float:
        return self.results.total

    @property
    def extra_credit(self) -> float:
        return round(sum(t.score for n, t in self.tests.items() if n in self.extra_credit_tests), 4)

    @property
    def base(self) -> float:
        return round(self.total - self.extra_credit, 4)

    def test_score(self, number: str) -> float | None:
        result = self.tests.get(number)
        return None if result is None else result.score

    def section_score(self, section: int, graded: list[TestRow]) -> float | None:
        scores = [self.test_score(row.number) for row in graded if row.section == section]
        present = [score for score in scores if score is not None]
        return round(sum(present), 4) if present else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def integrity_text(value: Any) -> str:
    """Integrity flags as one line: the grader's `{"flagged": …, "flags": [{"section", "kind", "what",
    "where"}]}` as `§2 recorder: what (where); …`, and any other shape (text, list, mapping) readably."""
    if not value:
        return ""
    if isinstance(value, dict) and "flags" in value:
        return integrity_text(value["flags"])
    if isinstance(value, dict) and "what" in value:
        where = f" ({value['where']})" if value.get("where") else ""
        return f"§{value.get('section', '?')} {value.get('kind', 'flag')}: {value['what']}{where}"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {integrity_text(item)}" for key, item in value.items() if item)
    if isinstance(value, list | tuple):
        return "; ".join(text for text in map(integrity_text, value) if text)
    return "flagged" if value is True else str(value)


def _extra(entry: dict[str, Any]) -> dict[str, Any]:
    extra = entry.get("extra_data")
    return extra if isinstance(extra, dict) else {}


def read_results(path: Path) -> Results | None:
    """The total, per-test results and integrity flags of one results.json (None if unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    tests, flags = {}, [integrity_text(_extra(data).get(INTEGRITY_KEY))]
    for entry in data.get("tests", []):
        if not isinstance(entry, dict) or "number" not in entry:
            continue
        score, max_score = _number(entry.get("score")), _number(entry.get("max_score"))
        passed = entry.get("status") == "passed" if "status" in entry else score >= max_score
        status = str(_extra(entry).get("status") or (errors.PASSED if passed else errors.FAILED))
        tests[str(entry["number"])] = ScoredTest(score, passed, str(entry.get("output") or ""), status)
        flag = integrity_text(_extra(entry).get(INTEGRITY_KEY))
        flags.append(f"{entry['number']}: {flag}" if flag else "")
    integrity = "; ".join(flag for flag in flags if flag)
    recorded = _extra(data).get(INTEGRITY_KEY)
    noted = integrity_text(recorded.get("notes")) if isinstance(recorded, dict) else ""
    return Results(_number(data.get("score")), tests, integrity, str(data.get("output") or ""), noted)


def submission_status(outcome: RunOutcome, results: Results | None, graded: list[TestRow]) -> str:
    """The gradebook status of one submission (see the module's docstring)."""
    if outcome.status == "timeout":
        return TIMEOUT
    if outcome.status != "ok" or results is None:
        return GRADER_ERROR
    statuses = [results.tests[row.number].status for row in graded if row.number in results.tests]
    if errors.INTERNAL_ERROR in statuses or len(statuses) < len(graded):
        return GRADER_ERROR
    if all(status == errors.NO_FILE for status in statuses):
        return NO_FILE
    if all(status in UNANSWERED for status in statuses):
        return UNTOUCHED
    if errors.PASSED not in statuses and errors.STUDENT_ERROR in statuses:
        return STUDENT_ERROR
    by_section: dict[int, list[str]] = defaultdict(list)
    for row in graded:
        by_section[row.section].append(results.tests[row.number].status)
    broken = any(set(section) <= SECTION_BROKEN for section in by_section.values())
    return STUDENT_ERROR if broken else OK


def collect_rows(
    submissions: list[Submission], outcomes: dict[str, RunOutcome], out_dir: Path, graded: list[TestRow]
) -> list[GradeRow]:
    """One row per submission that has an outcome, scores read from its results.json when it is `ok`."""
    extra_credit = frozenset(row.number for row in graded if row.extra_credit)
    rows = []
    for submission in submissions:
        outcome = outcomes.get(submission.id)
        if outcome is None:
            continue
        results = None
        if outcome.status == "ok":
            results = read_results(submission_dir(out_dir, submission) / RESULTS_FILE)
        status = submission_status(outcome, results, graded)
        rows.append(GradeRow(submission, outcome, status, results or Results(), extra_credit))
    return rows


def earlier_row(submission: Submission, out_dir: Path, graded: list[TestRow]) -> GradeRow | None:
    """The gradebook row of an earlier run of `submission`, or None if it never finished."""
    outcome = read_outcome(submission_dir(out_dir, submission))
    if outcome is None:
        return None
    return collect_rows([submission], {submission.id: outcome}, out_dir, graded)[0]


def split_finished(
    submissions: list[Submission], out_dir: Path, graded: list[TestRow], retry: frozenset[str]
) -> tuple[list[Submission], dict[str, RunOutcome]]:
    """The submissions to grade (never finished, or finished with a status in `retry`) and the
    outcomes of the others, which keep their grades."""
    kept: dict[str, RunOutcome] = {}
    pending = []
    for submission in submissions:
        row = earlier_row(submission, out_dir, graded)
        if row is None or row.status in retry:
            pending.append(submission)
        else:
            kept[submission.id] = row.outcome
    return pending, kept
