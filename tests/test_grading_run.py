"""A grading run as a whole: the CLI, the results file in every outcome, and determinism."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from core_grading import CORE_CHECKS, core_table

import grader.grading_run
from grader.grading_run import GRADER_ERROR, RunOptions, grade_submission
from grader.results import validate
from grader.table import load_table
from handout.build import build

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = """import torch
torch.manual_seed(1)
query121 = torch.randn(3)
def answer():
    return torch.full((3,), 42.0)
def other():
    return "fine"
"""


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    folder = tmp_path / "submission" / "hw2"
    folder.mkdir(parents=True)
    (folder / "A2S1 (1).py").write_text(SUBMISSION)
    return folder.parent


def without_time(results: dict) -> dict:
    return {key: value for key, value in results.items() if key != "execution_time"}


def test_grading_twice_gives_the_same_results(tmp_path: Path, submission: Path):
    first = grade_submission(
        RunOptions(submission, tmp_path / "a.json", sections={1}, checks_dir=CORE_CHECKS, seed=7),
        core_table(),
    )
    second = grade_submission(
        RunOptions(submission, tmp_path / "b.json", sections={1}, checks_dir=CORE_CHECKS, seed=7),
        core_table(),
    )
    assert without_time(first) == without_time(second)
    assert first["score"] == 7.5
    assert first["stdout_visibility"] == "hidden"
    assert {t["visibility"] for t in first["tests"]} == {"visible"}


def test_a_row_no_check_grades_stops_the_run_at_collection_and_is_named(
    tmp_path: Path, submission: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """§1 has six rows and tests/core_checks checks three: a forgotten check is found before any
    student code runs, and the instructor log names the rows."""
    with caplog.at_level(logging.ERROR, logger="grader"):
        results = grade_submission(
            RunOptions(submission, tmp_path / "results.json", sections={1}, checks_dir=CORE_CHECKS),
            load_table(),
        )
    assert results["score"] == 0
    assert all("No check was run for this test" in test["output"] for test in results["tests"])
    assert "no check is marked @pytest.mark.graded(...) for test(s) 1.3.2, 1.4.1, 1.4.2" in caplog.text


def test_an_error_in_the_grader_still_writes_every_test(tmp_path: Path, submission: Path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("grader bug")

    monkeypatch.setattr(grader.grading_run, "_run_checks", broken)
    path = tmp_path / "results.json"
    grade_submission(RunOptions(submission, path, sections={1, 2}, checks_dir=CORE_CHECKS))
    results = json.loads(path.read_text())
    validate(results)
    assert results["score"] == 0
    assert len(results["tests"]) == len(load_table().select({1, 2}))
    assert all(test["output"] == GRADER_ERROR for test in results["tests"])


def test_schema_rejects_what_gradescope_would_reject():
    good = {"tests": [{"name": "t", "score": 1, "max_score": 1, "status": "passed", "visibility": "visible"}]}
    validate(good)
    for bad in (
        {"tests": [{"name": "t", "score": 1, "max_score": 1, "status": "ok"}]},
        {"tests": [{"name": "t", "score": 1, "max_score": 1, "visibility": "students"}]},
        {"tests": [{"score": 1, "max_score": 1}]},
        {"score": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_grades_prints_the_table_and_exits_zero(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results_path = tmp_path / "results.json"
    done = run_cli("grade", str(empty), "--results", str(results_path), "--sections", "1")
    assert done.returncode == 0, done.stderr
    assert "A2S1.py was not found" in done.stdout
    assert "total" in done.stdout
    results = json.loads(results_path.read_text())
    assert [t["number"] for t in results["tests"]] == ["1.2.1", "1.2.2", "1.3.1", "1.3.2", "1.4.1", "1.4.2"]
    assert results_path.with_suffix(".log").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grade", "/nonexistent/folder"], "is not a folder"),
        (["grade", ".", "--sections", "9"], "numbers among 1,2,3"),
        (["grade", ".", "--profile", "huge"], "unknown profile 'huge'"),
        (["grade", ".", "--tests", "2.1.1,9.9.9"], "no such test: 9.9.9"),
    ],
)
def test_cli_explains_bad_input(args: list[str], message: str):
    done = run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_grading_the_whole_reference_twice_gives_identical_results(tmp_path: Path):
    """All three sections, §3's threshold training included, replayed with the same --seed: only
    execution_time may differ."""
    build(REPO_ROOT, tmp_path / "student", tmp_path / "dist")
    submission = tmp_path / "dist" / "reference_submission"
    first = grade_submission(RunOptions(submission, tmp_path / "first.json", seed=2026))
    second = grade_submission(RunOptions(submission, tmp_path / "second.json", seed=2026))
    assert without_time(first) == without_time(second)
    assert first["score"] == sum(row.points for row in load_table().tests)
