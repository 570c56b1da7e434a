"""How `batch` shares the machine: the submissions that hold the longest section go first, and each
grader run gets its share of the cores (grader/batch/pool.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.batch.discovery import Submission
from grader.batch.pool import costliest_first, share_of_the_cores
from grader.table import load_table


def submission(root: Path, name: str, files: tuple[str, ...]) -> Submission:
    folder = root / name
    folder.mkdir()
    for file in files:
        (folder / file).write_text("x = 1\n")
    return Submission(name, folder)


def test_submissions_holding_the_threshold_notebook_are_graded_first_in_their_order(tmp_path: Path):
    order = [
        submission(tmp_path, "s12", ("A2S1.py", "A2S2.py")),
        submission(tmp_path, "all", ("A2S1.py", "A2S2.py", "A2S3.py")),
        submission(tmp_path, "empty", ()),
        submission(tmp_path, "s3_copy", ("Copy of a2s3 (1).ipynb",)),
    ]
    ids = [item.id for item in costliest_first(order, load_table())]
    assert ids == ["all", "s3_copy", "s12", "empty"]


def test_each_grader_run_uses_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    assert share_of_the_cores(2)["OMP_NUM_THREADS"] == "2"
    assert share_of_the_cores(8)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert share_of_the_cores(2)["OMP_NUM_THREADS"] == "3", "the instructor's own setting wins"
