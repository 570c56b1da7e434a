"""Attacks on the verdicts themselves (tests/submissions/hostile/verdicts/), graded through the CLI.

Each attack must score 0 on the tests it attacks, leave every other test untouched, and raise the
staff's integrity flag exactly when it used a construct or tampering that grader/integrity.py names.
Every run uses a fixed --seed, so the hidden inputs are the same each time.
"""

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from corpus_grading import GRADE_TIMEOUT_S, PARALLEL_GRADERS, REPO, failed_tests, output_of

from grader.table import load_table

FOLDER = REPO / "tests" / "submissions" / "hostile" / "verdicts"
EXPECTED = tomllib.loads((FOLDER / "expected.toml").read_text())
SEED = 90210


def _section(name: str) -> int:
    return int(name[len("a2s")])


def _graded_tests(name: str) -> list[str]:
    spec = EXPECTED[name]
    return spec.get("tests") or [row.number for row in load_table().tests if row.section == _section(name)]


def _grade(name: str, workdir: Path) -> dict:
    section = _section(name)
    submission = workdir / name / "submission"
    submission.mkdir(parents=True)
    (submission / f"A2S{section}.py").write_text((FOLDER / f"{name}.py").read_text())
    results = workdir / name / "results.json"
    command = [sys.executable, "-m", "grader", "grade", str(submission), "--results", str(results)]
    command += ["--sections", str(section), "--tests", ",".join(_graded_tests(name)), "--seed", str(SEED)]
    subprocess.run(command + ["--quiet"], cwd=REPO, check=True, timeout=GRADE_TIMEOUT_S, capture_output=True)
    return json.loads(results.read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Results by attack; each section's attacks are graded together (two at a time), on first use."""
    results: dict[str, dict] = {}

    def of(name: str) -> dict:
        if name not in results:
            names = [other for other in EXPECTED if _section(other) == _section(name)]
            workdir = tmp_path_factory.mktemp(f"a2s{_section(name)}")
            with ThreadPoolExecutor(PARALLEL_GRADERS) as pool:
                results.update(zip(names, pool.map(lambda other: _grade(other, workdir), names), strict=True))
        return results[name]

    return of


def test_there_are_at_least_twenty_attacks_and_each_states_its_expectation():
    files = {path.stem for path in FOLDER.glob("*.py")}
    assert files == set(EXPECTED)
    assert len(files) >= 20


def _attack(name: str):
    """§1's attacks grade in seconds; §2.1's and §3's grade their whole section (the small GPT, the
    §3 probes) once per run, half a minute each, so `make test-fast` leaves them to `make test`."""
    return name if _section(name) == 1 else pytest.param(name, marks=pytest.mark.slow)


@pytest.mark.parametrize("name", [_attack(name) for name in sorted(EXPECTED)])
def test_attack_fails_exactly_what_it_attacks_and_is_flagged_when_it_should_be(graded, name):
    results, spec = graded(name), EXPECTED[name]
    wanted = set(_graded_tests(name)) if spec["failed"] == "all" else set(spec["failed"])
    assert failed_tests(results) == wanted
    assert results["extra_data"]["integrity"]["flagged"] is spec["flagged"]
    for number, words in spec.get("diagnosis", {}).items():
        assert words in output_of(results, number), number
    for test in results["tests"]:
        assert "internal error" not in test["output"], test["number"]
