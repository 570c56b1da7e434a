"""`python -m grader batch` on a generated class of ten submissions: grades.csv, the report, resuming.

The class mixes correct exports, buggy answers, an untouched template, an empty folder, a hostile
file and one whose answer hangs (first, so its wait overlaps the others); only §1 is graded, to keep
each grading run to a few seconds.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch.discovery import Submission
from grader.batch.pool import BatchOptions, BatchRunner, read_outcome, submission_dir
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "submissions" / "a2s1"
HANGS = "import time\n\n\ndef slow():\n    time.sleep(600)\n\n\nquery121 = slow()\n"
HOSTILE = "import os\nimport torch\n\nquery121 = torch.ones(3)\nquery122 = os._exit(0)\n"
CLASS = {
    "100": HANGS,
    "101": CORPUS / "correct_colab.py",
    "102": CORPUS / "correct_nbconvert_numpy.py",
    "103": CORPUS / "correct_jupytext_lists.py",
    "104": CORPUS / "correct_legacy_m_key.py",
    "105": CORPUS / "bug_query_too_weak.py",
    "106": CORPUS / "bug_unbalanced_average.py",
    "107": REPO / "student_template" / "A2S1.ipynb",
    "108": HOSTILE,
    "110": None,
}
TIMEOUT_SECONDS = 45


def _export(root: Path) -> Path:
    export = root / "export"
    metadata = []
    for number, content in CLASS.items():
        folder = export / f"submission_{number}"
        folder.mkdir(parents=True)
        if isinstance(content, Path):
            (folder / f"A2S1{content.suffix}").write_text(content.read_text())
        elif content is not None:
            (folder / "A2S1.py").write_text(content)
        metadata.append(
            f"submission_{number}:\n  :submitters:\n  - :name: Student {number}\n"
            f"    :sid: '{number}'\n    :email: s{number}@example.edu\n"
        )
    (export / "submission_metadata.yml").write_text("".join(metadata))
    return export


def _batch(export: Path, out: Path, *options: str) -> str:
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), *options]
    command += ["--jobs", "2", "--sections", "1", "--timeout", str(TIMEOUT_SECONDS)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("batch")
    export = _export(root)
    return export, root / "out", _batch(export, root / "out")


def _records(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as handle:
        return {record["submission_id"]: record for record in csv.DictReader(handle)}


def test_grades_csv_has_every_student_with_the_right_status_and_scores(graded_class) -> None:
    _, out, _ = graded_class
    records = _records(out)
    assert sorted(records) == sorted(CLASS)
    assert {number: r["status"] for number, r in records.items() if r["status"] != "ok"} == {
        "100": "timeout",
        "107": "untouched template",
        "108": "student error",
        "110": "no file",
    }
    assert records["101"]["name"] == "Student 101" and records["101"]["email"] == "s101@example.edu"
    rows = load_table().select({1})
    base = sum(row.points for row in rows if not row.extra_credit)
    extra = sum(row.points for row in rows if row.extra_credit)
    for number in ("101", "102", "103", "104"):
        record = records[number]
        assert (float(record["base_points"]), float(record["extra_credit"])) == (base, extra), record
    for number in ("105", "106"):
        assert 0 < float(records[number]["total"]) < base + extra, records[number]
    assert records["106"]["status_1.3.2"] == "failed" and records["106"]["status_1.2.1"] == "passed"
    assert records["107"]["status_1.2.1"] == "not implemented"
    assert records["108"]["status_1.2.1"] == "student error" and records["110"]["status_1.2.1"] == "no file"
    for number in ("107", "108", "110"):
        assert float(records[number]["total"]) == 0, records[number]
    assert records["100"]["test_1.2.1"] == "" and records["100"]["total"] == ""
    assert all(
        (out / "submissions" / number / "results.json").is_file() for number in CLASS if number != "100"
    )


def test_report_shows_the_distribution_the_failures_and_a_histogram(graded_class) -> None:
    _, out, _ = graded_class
    report = (out / "report.md").read_text()
    assert (
        "10 submissions: 6 ok, 1 no file, 1 untouched template, 1 student error, 1 timeout, "
        "0 internal grader error." in report
    )
    assert "CSE 447" in report.splitlines()[0]
    assert "## Where the class got stuck" in report and "A2S1.py was not found" in report
    stopped = f"timeout: grading did not finish within {TIMEOUT_SECONDS} s and was stopped"
    assert f"| 100 | Student 100 | {stopped} |" in report
    assert "| 110 | Student 110 | A2S1 |" in report
    assert (out / "totals.png").read_bytes().startswith(b"\x89PNG")


def test_a_rerun_grades_only_unfinished_submissions_and_those_with_no_grade(graded_class) -> None:
    export, out, _ = graded_class
    before = {number: (out / "submissions" / number / "outcome.json").stat().st_mtime_ns for number in CLASS}
    (out / "submissions" / "105" / "outcome.json").unlink()
    broken = out / "submissions" / "106" / "outcome.json"
    broken.write_text(json.dumps({"id": "106", "status": "error", "seconds": 1.0, "message": "killed"}))
    output = _batch(export, out, "--retry", "internal")
    assert "Keeping the grades of 8 submission(s)" in output, "the timeout is kept with --retry internal"
    after = {number: (out / "submissions" / number / "outcome.json").stat().st_mtime_ns for number in CLASS}
    assert [number for number in CLASS if after[number] != before[number]] == ["105", "106"]
    assert _records(out)["105"]["status"] == "ok" and _records(out)["106"]["status"] == "ok"


def test_a_grader_that_dies_without_results_is_an_error_not_a_stop(tmp_path: Path, monkeypatch) -> None:
    dying = [sys.executable, "-c", "import sys; print('grader crashed'); sys.exit(3)"]
    monkeypatch.setattr("grader.batch.pool.grade_command", lambda *_: dying)
    runner = BatchRunner(tmp_path, BatchOptions("offline", 1, 30))
    outcome = runner.grade_one(Submission("7", tmp_path))
    assert outcome.status == "error" and "status 3" in outcome.message and "grader crashed" in outcome.message
    assert read_outcome(submission_dir(tmp_path, Submission("7", tmp_path))) == outcome
