"""Reads each submission's results.json into one row of grades, and writes grades.csv.

The columns follow the assignment table: one per section and one per test, in table order, so the
file lines up with the handout's numbering. A submission whose grading did not finish keeps its row,
with empty scores, a zero total and its status, so nobody silently drops out of the gradebook.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.batch.discovery import Submission
from grader.batch.runner import RESULTS_FILE, Outcome, submission_dir
from grader.table import TestRow


@dataclass(frozen=True)
class ScoredTest:
    """One test of one submission, as its results.json reports it."""

    score: float
    passed: bool
    output: str


@dataclass(frozen=True)
class GradeRow:
    """Everything the CSV and the report know about one submission."""

    submission: Submission
    outcome: Outcome
    total: float = 0.0
    tests: dict[str, ScoredTest] = field(default_factory=dict)

    def test_score(self, number: str) -> float | None:
        result = self.tests.get(number)
        return None if result is None else result.score

    def section_score(self, section: int, graded: list[TestRow]) -> float | None:
        scores = [self.test_score(row.number) for row in graded if row.section == section]
        present = [score for score in scores if score is not None]
        return round(sum(present), 4) if present else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def read_results(path: Path) -> tuple[float, dict[str, ScoredTest]]:
    """The total and the per-test results of one Gradescope results.json (empty if unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0, {}
    tests = {}
    for entry in data.get("tests", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict) or "number" not in entry:
            continue
        score, max_score = _number(entry.get("score")), _number(entry.get("max_score"))
        passed = entry.get("status") == "passed" if "status" in entry else score >= max_score
        tests[str(entry["number"])] = ScoredTest(score, passed, str(entry.get("output") or ""))
    return _number(data.get("score")), tests


def collect_rows(
    submissions: list[Submission], outcomes: dict[str, Outcome], out_dir: Path
) -> list[GradeRow]:
    """One row per submission that has an outcome, scores read from its results.json when it is `ok`."""
    rows = []
    for submission in submissions:
        outcome = outcomes.get(submission.id)
        if outcome is None:
            continue
        total, tests = (0.0, {})
        if outcome.status == "ok":
            total, tests = read_results(submission_dir(out_dir, submission) / RESULTS_FILE)
        rows.append(GradeRow(submission, outcome, total, tests))
    return rows


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_grades_csv(path: Path, rows: list[GradeRow], graded: list[TestRow]) -> None:
    """grades.csv: who, how grading ended, total, per-section and per-test scores."""
    sections = sorted({row.section for row in graded})
    header = ["submission_id", "names", "emails", "sids", "status", "total"]
    header += [f"section_{number}" for number in sections]
    header += [f"test_{row.number}" for row in graded]
    header += ["grading_seconds", "message"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            people = row.submission.submitters
            writer.writerow(
                [
                    row.submission.id,
                    row.submission.names,
                    row.submission.emails,
                    "; ".join(person.sid for person in people if person.sid),
                    row.outcome.status,
                    _cell(row.total),
                    *(_cell(row.section_score(number, graded)) for number in sections),
                    *(_cell(row.test_score(test.number)) for test in graded),
                    _cell(row.outcome.seconds),
                    row.outcome.message,
                ]
            )
