"""run_autograder end to end, as Gradescope runs it: a root-owned layout, the real privilege drop.

Each test unpacks the autograder zip into a temporary folder laid out like /autograder, puts a
submission in it and runs run_autograder on it. The results must validate against Gradescope's
schema whatever the submission does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.results import validate
from grader.table import load_table
from gradescope.autograde import NO_GPU_NOTE
from gradescope.package import build_zip
from handout.build import NOTEBOOKS, build

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs root (CI runs as root)")


@pytest.fixture(scope="module")
def handout_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The student template and the reference submission, as `make handout` builds them."""
    student_dir, dist_dir = tmp_path_factory.mktemp("student"), tmp_path_factory.mktemp("dist")
    build(REPO, student_dir, dist_dir)
    return student_dir, dist_dir / "reference_submission"


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture
def autograder_root(autograder_zip: Path) -> Iterator[Path]:
    """A fresh /autograder look-alike; under /tmp with open parents, as the sandbox user must reach it."""
    root = Path(tempfile.mkdtemp(prefix="a2-autograder-", dir="/tmp"))
    root.chmod(0o755)
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir()
    metadata = {"id": 4470001, "users": [{"name": "Test Student", "email": "student@example.edu"}]}
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(root: Path) -> dict:
    env = {
        **os.environ,
        "A2_PYTHON": sys.executable,
        "A2_ASSETS_DIR": str(root / "assets"),
        "HF_HOME": str(root / "hf-cache"),
    }
    finished = subprocess.run(
        ["bash", str(root / "source" / "run_autograder"), str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results_dir = root / "results"
    assert oct(results_dir.stat().st_mode & 0o777) == "0o700", "the results folder must be root-only"
    results = json.loads((results_dir / "results.json").read_text())
    validate(results)
    log = (results_dir / "stdout").read_text()
    assert "submission 4470001 by Test Student" in log
    return results


def _by_number(results: dict) -> dict[str, dict]:
    return {test["number"]: test for test in results["tests"]}


def test_reference_submission_gets_full_marks(autograder_root: Path, handout_dirs: tuple[Path, Path]) -> None:
    shutil.copytree(handout_dirs[1], autograder_root / "submission", dirs_exist_ok=True)
    results = run_autograder(autograder_root)
    failed = {t["number"]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert not failed, f"the reference solution lost points: {failed}"
    assert results["score"] == sum(row.points for row in load_table().tests)
    assert results["output"].startswith(NO_GPU_NOTE), "a CPU-only run must say it used the offline profile"
    assert results["stdout_visibility"] == "hidden"


def test_empty_template_scores_zero_with_a_reason_for_every_test(
    autograder_root: Path, handout_dirs: tuple[Path, Path]
) -> None:
    for name in NOTEBOOKS:
        shutil.copy(handout_dirs[0] / f"{name}.ipynb", autograder_root / "submission" / f"{name}.ipynb")
    results = run_autograder(autograder_root)
    assert results["score"] == 0
    assert len(results["tests"]) == len(load_table().tests)
    assert all(test["status"] == "failed" and test["output"].strip() for test in results["tests"])
    attention = [test["output"] for number, test in _by_number(results).items() if number.startswith("2.1.")]
    assert all("not implemented yet" in output for output in attention), attention


HOSTILE = '''
import os
import torch


def _attack():
    """Tries what a cheating submission would; returns the right answer only if every try was refused."""
    refused = 0
    tries = [
        lambda: open("{root}/results/results.json", "w").write('{{"score": 1000, "tests": []}}'),
        lambda: open("{root}/source/grader/checks/test_s1_public.py").read(),
        lambda: os.listdir("{root}/results"),
        lambda: open("{root}/submission/A2S1.py").read(),
    ]
    for attempt in tries:
        try:
            attempt()
        except PermissionError:
            refused += 1
    if refused != len(tries):
        return torch.zeros(3)
    torch.manual_seed(447)
    key = torch.randn(4, 3)
    key /= key.norm(dim=1, keepdim=True)
    key.round_(decimals=2)
    return 1000 * key[0]


query121 = _attack()
'''

HOSTILE_FUNCTIONS = """
import os


def pairwise_similarities(Q, K):
    os._exit(0)
"""


def test_hostile_submission_gets_a_valid_unforged_result(autograder_root: Path) -> None:
    (autograder_root / "submission" / "A2S1.py").write_text(HOSTILE.format(root=autograder_root))
    (autograder_root / "submission" / "A2S2.py").write_text(HOSTILE_FUNCTIONS)
    results = run_autograder(autograder_root)
    tests = _by_number(results)
    assert tests["1.2.1"]["status"] == "passed", "an attack was not refused: " + tests["1.2.1"]["output"]
    assert "query122" in tests["1.2.2"]["output"] and tests["2.1.1"]["status"] == "failed"
    assert results["score"] == tests["1.2.1"]["max_score"]
    assert len(results["tests"]) == len(load_table().tests)
