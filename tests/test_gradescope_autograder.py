"""run_autograder end to end, as Gradescope runs it: a root-owned layout, the real privilege drop.

Each test unpacks the autograder zip into a temporary folder laid out like /autograder, puts a
submission in it and runs run_autograder on it the way Gradescope's harness does: results/stdout is
created first and run_autograder's output is appended to it. The results must validate against
Gradescope's schema whatever the submission (or the grader) does, and the harness's file must only
ever grow.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradescope_layout import HARNESS_LINE, HOSTILE, HOSTILE_FUNCTIONS, by_number

from grader.grading_run import NOT_FINISHED
from grader.packaged_course import COURSE_FILE
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
    return build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip", "447")


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


def start_autograder(root: Path, stdout) -> subprocess.Popen:
    """Starts run_autograder with its output appended to `stdout`, as Gradescope's harness does."""
    env = {
        **os.environ,
        "A2_PYTHON": sys.executable,
        "A2_ASSETS_DIR": str(root / "assets"),
        "HF_HOME": str(root / "hf-cache"),
    }
    return subprocess.Popen(
        ["bash", str(root / "source" / "run_autograder"), str(root)],
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )


def run_autograder(root: Path, until=None) -> tuple[dict, str]:
    """Runs run_autograder to its end; returns the validated results and the captured output.

    `until`, if given, is called with the process every second while it runs."""
    results_dir = root / "results"
    results_dir.mkdir()
    captured = results_dir / "stdout"
    captured.write_text(HARNESS_LINE)
    with captured.open("a") as stdout:
        process = start_autograder(root, stdout)
        deadline = time.monotonic() + 900
        while process.poll() is None and time.monotonic() < deadline:
            if until is not None:
                until(process)
            time.sleep(1)
        if process.poll() is None:
            process.kill()
    output = captured.read_text()
    assert process.wait() == 0, output
    assert output.startswith(HARNESS_LINE), "run_autograder truncated or rewrote the harness's stdout"
    assert oct(results_dir.stat().st_mode & 0o777) == "0o700", "the results folder must be root-only"
    results = json.loads((results_dir / "results.json").read_text())
    validate(results)
    return results, output


def test_reference_submission_gets_full_marks(autograder_root: Path, handout_dirs: tuple[Path, Path]) -> None:
    shutil.copytree(handout_dirs[1], autograder_root / "submission", dirs_exist_ok=True)
    results, output = run_autograder(autograder_root)
    assert "submission 4470001 by Test Student" in output
    assert "1.2.1" in output and "total" in output, "the score table must be in the captured output"
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
    results, output = run_autograder(autograder_root)
    assert results["score"] == 0
    assert len(results["tests"]) == len(load_table().tests)
    assert all(test["status"] == "failed" and test["output"].strip() for test in results["tests"])
    assert {test["extra_data"]["status"] for test in results["tests"]} == {"not implemented"}
    # The staff's output reads in a minute: the summary, one line a test, the log one line a record.
    assert "== For the staff: CSE 447, profile 'offline', score 0/50" in output
    assert "internal errors: none" in output and len(output.splitlines()) < 100, len(output.splitlines())
    attention = [test["output"] for number, test in by_number(results).items() if number.startswith("2.1.")]
    assert all("not implemented yet" in output for output in attention), attention


def test_hostile_submission_gets_a_valid_unforged_result(autograder_root: Path) -> None:
    (autograder_root / "submission" / "A2S1.py").write_text(HOSTILE.format(root=autograder_root))
    (autograder_root / "submission" / "A2S2.py").write_text(HOSTILE_FUNCTIONS)
    results, _ = run_autograder(autograder_root)
    tests = by_number(results)
    assert tests["1.2.1"]["status"] == "passed", "an attack was not refused: " + tests["1.2.1"]["output"]
    assert "query122" in tests["1.2.2"]["output"] and tests["2.1.1"]["status"] == "failed"
    assert results["score"] == tests["1.2.1"]["max_score"]
    assert len(results["tests"]) == len(load_table().tests)


def _grader_pids(root: Path) -> list[int]:
    """The grader processes (`python -m grader grade`) grading under `root`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"grader" in argv and b"grade" in argv and str(root / "submission").encode() in argv:
            pids.append(int(entry.name))
    return pids


def test_a_global_stop_after_section_1_keeps_its_points(
    autograder_root: Path, handout_dirs: tuple[Path, Path]
) -> None:
    """The grader is killed (as Gradescope's time limit would) as soon as §1 is on disk; the zip is
    CSE 517's (`make autograder COURSE=517` adds only the file COURSE), where 1.4 is required."""
    (autograder_root / "source" / COURSE_FILE).write_text("517\n")
    for name in ("A2S1.py", "A2S2.py"):
        shutil.copy(handout_dirs[1] / name, autograder_root / "submission" / name)
    table = load_table(course="517")
    section_1 = [row.number for row in table.tests if row.section == 1]
    results_path = autograder_root / "results" / "results.json"

    def stop_after_section_1(_: subprocess.Popen) -> None:
        try:
            tests = by_number(json.loads(results_path.read_text()))
        except (OSError, ValueError):
            return
        if all(tests[number]["status"] == "passed" for number in section_1):
            for pid in _grader_pids(autograder_root):
                os.killpg(pid, signal.SIGKILL)

    results, output = run_autograder(autograder_root, until=stop_after_section_1)
    tests = by_number(results)
    assert all(tests[number]["status"] == "passed" for number in section_1)
    # The stop lands within a second of §1 being on disk: §2's first tests may have finished by then,
    # and what finished keeps its points too.
    assert results["score"] == sum(test["score"] for test in tests.values())
    assert results["score"] >= sum(row.points for row in table.tests if row.section == 1)
    assert tests["1.4.1"]["max_score"] == table.test("1.4.1").points > 0, "CSE 517 requires 1.4"
    unfinished = [test for number, test in tests.items() if not number.startswith("1.")]
    assert unfinished and all(test["output"] == NOT_FINISHED for test in unfinished[-3:])
    assert "stopped before it finished" in results["output"]
    assert "the grader exited with status -9" in output


def test_a_broken_table_still_yields_a_valid_results_file(autograder_root: Path) -> None:
    table = autograder_root / "source" / "a2" / "assignment.toml"
    table.write_text(table.read_text().replace('[[tests]]\nnumber = "1.2.1"', "[[tests]\nnumber = 1.2.1", 1))
    (autograder_root / "submission" / "A2S1.py").write_text("query121 = [0.0, 0.0, 1.0]\n")
    results, output = run_autograder(autograder_root)
    assert results["score"] == 0 and results["tests"] == []
    assert "contact them" in results["output"]
    assert "assignment.toml" in output, "the staff must see which file is broken"
    assert "no results.json was written" in output


BROKEN_CHECK = """

@pytest.fixture(autouse=True)
def _broken_on_purpose(request):
    if request.node.get_closest_marker("graded").args[0] == "1.2.2":
        raise RuntimeError("this check is broken on purpose")
"""


def test_a_broken_check_shows_its_traceback_to_the_staff_only(
    autograder_root: Path, handout_dirs: tuple[Path, Path]
) -> None:
    with (autograder_root / "source" / "a2" / "checks" / "test_s1_public.py").open("a") as checks:
        checks.write(BROKEN_CHECK)
    shutil.copy(handout_dirs[1] / "A2S1.py", autograder_root / "submission" / "A2S1.py")
    results, output = run_autograder(autograder_root)
    broken = by_number(results)["1.2.2"]
    assert broken["status"] == "failed" and "internal error" in broken["output"]
    assert "Traceback" not in json.dumps(results) and "broken on purpose" not in json.dumps(results)
    assert "RuntimeError: this check is broken on purpose" in output
    assert "test_s1_public.py" in output, "the traceback must name the check's file"
    assert by_number(results)["1.2.1"]["status"] == "passed"
