"""A second assignment, graded by the same engine: the proof that the engine knows no Assignment 2.

tests/toy_assignment/ is a whole assignment of its own (a table with one notebook and two questions,
and its checks), named with $GRADER_ASSIGNMENT. Nothing of the engine changes for it: `python -m
grader` grades it, the table it reads decides what is graded (its graded part, its answers, its
points), and A2's own sections, verbs and resources appear nowhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment_home import ASSIGNMENT_VARIABLE

REPO = Path(__file__).resolve().parent.parent
TOY = Path(__file__).resolve().parent / "toy_assignment"

SUBMISSIONS = {
    "plain": 'greeting = "hello"\n\n\ndef double(x):\n    return 2 * x\n',
    "another_style": (
        "# %% [markdown]\n# ## 1.1 A greeting\n\n# %%\nparts = ['hel', 'lo']\ngreeting = ''.join(parts)\n"
        "print(greeting)\n\n# %% [markdown]\n# ## 1.2 Doubling\n\n# %%\ndouble = lambda x: x + x\n"
        "# %% [markdown]\n# ## 1.3 Playing around\n\n# %%\ndef double(x):\n    return 'not graded'\n"
    ),
    "buggy": 'greeting = "Hello"\n\n\ndef double(x):\n    return x * x\n',
}
EXPECTED = {"plain": (1, 2), "another_style": (1, 2), "buggy": (0, 0)}


def _grade(folder: Path) -> dict:
    results = folder.parent / f"{folder.name}.json"
    env = {**os.environ, ASSIGNMENT_VARIABLE: str(TOY)}
    process = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(folder), "--results", str(results)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(results.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_the_engine_grades_the_toy_assignment_by_its_own_table(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "WarmUp.py").write_text(SUBMISSIONS[name], encoding="utf-8")
    results = _grade(folder)
    scores = {test["name"]: test["score"] for test in results["tests"]}
    greeting, double = EXPECTED[name]
    assert scores == {"greeting says hello": greeting, "double doubles": double}
    assert results["score"] == greeting + double
    assert "Toy: Warm-up (CSE 100)" in results["output"]
    if name == "buggy":
        outputs = {test["name"]: test["output"] for test in results["tests"]}
        assert "double(3) returned 9, not 6." in outputs["double doubles"]
        assert "greeting is 'Hello'" in outputs["greeting says hello"]


def test_a_missing_notebook_is_said_in_the_toy_s_own_words(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing here", encoding="utf-8")
    results = _grade(folder)
    assert results["score"] == 0
    assert all("WarmUp.py was not found" in test["output"] for test in results["tests"])


def test_the_toy_s_command_line_has_the_engine_s_verbs_only() -> None:
    env = {**os.environ, ASSIGNMENT_VARIABLE: str(TOY)}
    process = subprocess.run(
        [sys.executable, "-m", "grader", "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Toy: Warm-up" in process.stdout
    assert "prepare" not in process.stdout and "Attention" not in process.stdout
