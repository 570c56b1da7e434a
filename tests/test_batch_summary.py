"""Batch regrading without grading: finding submissions, reading metadata, grades.csv and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader.batch.discovery import BatchInputError, Submission, Submitter, find_submissions
from grader.batch.grades import collect_rows, write_grades_csv
from grader.batch.report import HISTOGRAM_FILE, write_report
from grader.batch.runner import OUTCOME_FILE, RESULTS_FILE, Outcome, read_outcome, submission_dir
from grader.table import load_table

METADATA = """\
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  - :name: Alan Turing
    :sid: '1912'
    :email: alan@example.edu
  :created_at: 2024-02-09 23:01:00.000000000 -08:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Grace Hopper
    :sid: '1906'
    :email: grace@example.edu
"""


def _export(tmp_path: Path, metadata: str | None = METADATA) -> Path:
    export = tmp_path / "export"
    for folder in ("submission_102", "submission_101", "submission_103"):
        (export / folder).mkdir(parents=True)
        (export / folder / "A2S1.py").write_text("query121 = None\n")
    if metadata is not None:
        (export / "submission_metadata.yml").write_text(metadata)
    return export


def test_gradescope_export_gives_ids_and_submitters(tmp_path: Path) -> None:
    submissions, warnings = find_submissions(_export(tmp_path))
    assert [s.id for s in submissions] == ["101", "102", "103"]
    assert submissions[0].names == "Ada Lovelace; Alan Turing"
    assert submissions[0].emails == "ada@example.edu; alan@example.edu"
    assert submissions[1].submitters == (Submitter("Grace Hopper", "grace@example.edu", "1906"),)
    assert submissions[2].submitters == ()
    assert warnings == ["1 folder(s) not in submission_metadata.yml: submission_103"]


def test_any_folder_of_folders_works_and_broken_metadata_costs_only_names(tmp_path: Path) -> None:
    submissions, warnings = find_submissions(_export(tmp_path, metadata=":\n  - [unclosed"))
    assert [s.id for s in submissions] == ["101", "102", "103"]
    assert all(s.submitters == () for s in submissions)
    assert len(warnings) == 1 and "could not be read" in warnings[0]


def test_an_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="not a folder"):
        find_submissions(tmp_path / "nowhere")
    with pytest.raises(BatchInputError, match="no submission folders"):
        find_submissions(tmp_path)


def _finish(out: Path, submission: Submission, outcome: Outcome, results: dict | None) -> None:
    folder = submission_dir(out, submission)
    folder.mkdir(parents=True)
    (folder / OUTCOME_FILE).write_text(json.dumps(outcome.__dict__))
    if results is not None:
        (folder / RESULTS_FILE).write_text(json.dumps(results))


def _results(scores: dict[str, tuple[float, str]]) -> dict:
    table = load_table()
    tests = [
        {
            "number": number,
            "name": table.test(number).name,
            "score": score,
            "max_score": table.test(number).max_score,
            "status": "passed" if score == table.test(number).points else "failed",
            "output": output,
        }
        for number, (score, output) in scores.items()
    ]
    return {"score": sum(test["score"] for test in tests), "tests": tests}


def test_csv_and_report_summarise_the_class(tmp_path: Path) -> None:
    table = load_table()
    graded = table.select({1})
    out = tmp_path / "out"
    people = (Submitter("Ada", "ada@example.edu", "1"),)
    submissions = [Submission(str(i), tmp_path / str(i), people if i == 1 else ()) for i in (1, 2, 3, 4)]
    full = {row.number: (row.points, "") for row in graded}
    off = "Off by up to {} (allowed: 0.05).\nmore detail"
    _finish(out, submissions[0], Outcome("1", "ok", 3.0), _results(full))
    _finish(
        out, submissions[1], Outcome("2", "ok", 2.5), _results({**full, "1.2.1": (0.0, off.format(0.26))})
    )
    _finish(
        out, submissions[2], Outcome("3", "ok", 2.0), _results({**full, "1.2.1": (0.0, off.format(0.54))})
    )
    _finish(out, submissions[3], Outcome("4", "timeout", 60.0, "grading did not finish"), None)
    outcomes = {s.id: read_outcome(submission_dir(out, s)) for s in submissions}
    rows = collect_rows(submissions, outcomes, out)

    write_grades_csv(out / "grades.csv", rows, graded)
    with (out / "grades.csv").open() as handle:
        records = list(csv.DictReader(handle))
    maximum = sum(row.points for row in graded)
    assert [r["status"] for r in records] == ["ok", "ok", "ok", "timeout"]
    assert records[0]["names"] == "Ada" and records[0]["emails"] == "ada@example.edu"
    assert float(records[0]["total"]) == maximum == float(records[0]["section_1"])
    assert float(records[1]["test_1.2.1"]) == 0 and float(records[1]["total"]) == maximum - 2.5
    assert records[3]["test_1.2.1"] == "" and float(records[3]["total"]) == 0

    report = write_report(out, rows, graded, table.title).read_text()
    assert (out / HISTOGRAM_FILE).read_bytes().startswith(b"\x89PNG")
    assert "4 submissions: 3 graded, 1 timed out, 0 could not be graded." in report
    assert "- 2× Off by up to 0.26 (allowed: 0.05)." in report, "one mistake, two numbers"
    assert "more detail" not in report
    assert "| 1.2.1 | query121 selects v0 | 2.5 | 0.83 | 1/3 | 2/3 | 0: 2, 2.5: 1 |" in report
    assert "| 4 |  | timeout | grading did not finish |" in report
