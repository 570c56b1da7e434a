"""run_autograder's own contributions to results.json: the fallback, the no-GPU note, the log line."""

from __future__ import annotations

import json
from pathlib import Path

from grader.results import results_are_valid
from grader.table import load_table
from gradescope.autograde import (
    GRADER_FAILED,
    NO_GPU_NOTE,
    add_top_note,
    describe_submission,
    write_fallback_results,
)


def test_fallback_lists_every_test_failed_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_fallback_results(path, "the grader did not finish within 2280 s and was stopped")
    results = json.loads(path.read_text())
    assert results_are_valid(path)
    assert [test["number"] for test in results["tests"]] == [row.number for row in load_table().tests]
    assert results["score"] == 0 and all(test["output"] == GRADER_FAILED for test in results["tests"])
    assert "2280 s" in results["output"] and results["stdout_visibility"] == "hidden"


def test_no_gpu_note_comes_first_and_keeps_the_results_valid(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_fallback_results(path, "reason")
    add_top_note(path, NO_GPU_NOTE)
    results = json.loads(path.read_text())
    assert results["output"].startswith(NO_GPU_NOTE + "\n\n" + GRADER_FAILED)
    assert results_are_valid(path)


def test_submission_is_described_from_gradescope_metadata(tmp_path: Path) -> None:
    path = tmp_path / "submission_metadata.json"
    assert describe_submission(path) == "submission (no submission_metadata.json)"
    path.write_text("{not json")
    assert describe_submission(path).startswith("submission (submission_metadata.json unreadable")
    users = [{"name": "Ada", "email": "ada@example.edu"}, {"email": "alan@example.edu"}]
    path.write_text(json.dumps({"id": 12, "users": users}))
    assert describe_submission(path) == "submission 12 by Ada, alan@example.edu"
