"""Attacks on the intake and on what the grader prints (tests/submissions/hostile/intake/).

Each upload is graded on §1 through the real command line, with the score table printed, as `batch`
and run_autograder run it. Whatever the upload holds, the run must end normally with a grade, print
nothing a terminal would act on, write results.json and the instructor log with no student text that
could pass for the grader's own, and never call the student's doing an internal error.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from corpus_grading import CORPUS_ROOT, GRADE_TIMEOUT_S, PARALLEL_GRADERS, REPO, failed_tests, output_of

from grader.sanitise import LOG_CONTINUATION, clean
from grader.table import load_table

FOLDER = CORPUS_ROOT / "hostile" / "intake"
EXPECTED = tomllib.loads((FOLDER / "expected.toml").read_text(encoding="utf-8"))
CORRECT = CORPUS_ROOT / "a2s1" / "correct_colab.py"
SECTION_ONE = [row.number for row in load_table().tests if row.section == 1]
#: The grader's own log lines: its format, "%(asctime)s %(levelname)s %(message)s".
GRADER_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def file_text(spec: str | dict) -> str:
    """The text of one uploaded file (expected.toml's header says how it is given)."""
    if isinstance(spec, str):
        return (CORRECT if spec == "correct" else FOLDER / spec).read_text(encoding="utf-8")
    if "cells" in spec:
        cells = [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": f"x{i} = {i}",
            }
            for i in range(spec["cells"])
        ]
        return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    base = file_text(spec["base"]) if "base" in spec else ""
    return (
        base + spec.get("before", "") + spec.get("repeat", "") * spec.get("times", 0) + spec.get("after", "")
    )


def grade(name: str, workdir: Path) -> tuple[subprocess.CompletedProcess[bytes], dict, str]:
    submission = workdir / name / "submission"
    submission.mkdir(parents=True)
    for filename, spec in EXPECTED[name]["upload"].items():
        (submission / filename).write_text(file_text(spec), encoding="utf-8", errors="surrogateescape")
    results = workdir / name / "results.json"
    command = [sys.executable, "-m", "grader", "grade", str(submission), "--results", str(results)]
    finished = subprocess.run(
        [*command, "--sections", "1"], cwd=REPO, capture_output=True, timeout=GRADE_TIMEOUT_S, check=False
    )
    log = results.with_suffix(".log").read_text(encoding="utf-8")
    return finished, json.loads(results.read_text(encoding="utf-8")), log


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("intake")
    with ThreadPoolExecutor(PARALLEL_GRADERS) as pool:
        return dict(zip(EXPECTED, pool.map(lambda name: grade(name, workdir), EXPECTED), strict=True))


def test_every_case_says_why_and_what_it_must_give():
    for name, spec in EXPECTED.items():
        assert spec["why"].startswith(("review:", "variant:")), name
        assert isinstance(spec["failed"], list) or spec["failed"] == "all", name
    assert {path.name for path in FOLDER.iterdir()} >= {
        spec for case in EXPECTED.values() for spec in case["upload"].values() if isinstance(spec, str)
    } - {"correct"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_upload_is_graded_and_nothing_it_holds_reaches_a_sink(graded, name):
    finished, results, log = graded[name]
    spec = EXPECTED[name]
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    stdout = finished.stdout.decode("utf-8")  # valid UTF-8: no surrogate reached the terminal
    assert clean(stdout) == stdout, "a control character or escape sequence reached the terminal"
    assert "total" in stdout, "the score table was printed"
    text = json.dumps(results, ensure_ascii=False)
    assert clean(text) == text and "\\u001b" not in json.dumps(results)
    wanted = set(SECTION_ONE) if spec["failed"] == "all" else set(spec["failed"])
    assert failed_tests(results) == wanted
    report = results["output"] + "".join(output_of(results, number) for number in SECTION_ONE)
    for words in spec.get("notes", []):
        assert words in report, words
    for test in results["tests"]:
        assert test["extra_data"]["status"] != "internal error", test
    for line in log.splitlines():
        assert GRADER_LINE.match(line) or line.startswith(LOG_CONTINUATION), line
    assert clean(log) == log


def test_what_the_student_s_process_printed_is_quoted_in_the_log(graded):
    _, _, log = graded["log_imitation"]
    fakes = [line for line in log.splitlines() if "2026-01-01" in line]
    assert len(fakes) == 3
    assert all(line.startswith(f"{LOG_CONTINUATION}> ") for line in fakes), fakes
