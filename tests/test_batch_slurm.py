"""`grader batch --slurm` on a real one-node Slurm started by this module, against the local batch.

A class of twelve submissions (the reference, an untouched template, buggy answers, a hostile file,
an unparseable one, an empty folder, one that hangs, one correct §3; §1/§2 otherwise, to stay fast)
is graded through Slurm and through the local batch: grades.csv must be the same but for the timing
column. Then a rerun through Slurm submits only the submission whose outcome was removed.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch.pool import BatchOptions
from grader.cluster import localslurm
from grader.cluster.localslurm import free_ports
from grader.cluster.slurm import SlurmOptions, sbatch_command
from handout.colab_export import export_reference

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "submissions"
TEMPLATE = REPO / "student_template"
HANGS = "import time\n\n\ndef slow():\n    time.sleep(600)\n\n\nquery121 = slow()\n"
HOSTILE = "import os\nimport torch\n\nquery121 = torch.ones(3)\nquery122 = os._exit(0)\n"
UNPARSEABLE = "import torch\n\nquery121 = torch.tensor([1.0, 0.0, 0.0]\n"
# Enough for the §3 submission on two busy cores, and for the hanging one (first, so that its wait
# overlaps the others) to have each of its §1 tests stopped at its own limit (about 140 s in all): its
# run finishes, so it has a grade, 0, and its status says why (a student error, not a timeout).
TIMEOUT_SECONDS = 200
TIMING_COLUMN = "grading_seconds"


def _class(export: Path) -> list[str]:
    """Writes the class; returns the submission ids."""
    files: dict[str, dict[str, Path | str]] = {
        "200": {"A2S1.py": HANGS},
        "201": {"A2S1.py": export_reference(REPO, "A2S1"), "A2S2.py": export_reference(REPO, "A2S2")},
        "202": {"A2S1.ipynb": TEMPLATE / "A2S1.ipynb"},
        "203": {"A2S1.py": CORPUS / "a2s1" / "bug_unbalanced_average.py"},
        "204": {"A2S1.py": CORPUS / "a2s1" / "bug_wrong_value_and_shapes.py"},
        "205": {"A2S1.py": CORPUS / "a2s1" / "correct_nbconvert_numpy.py"},
        "206": {"A2S1.py": HOSTILE},
        "207": {},
        "208": {"hw2/a2s1.py": CORPUS / "a2s1" / "correct_jupytext_lists.py"},
        "209": {"A2S1.py": UNPARSEABLE},
        "210": {"A2S1.py": CORPUS / "a2s1" / "bug_query_too_weak.py"},
        "211": {"A2S3.py": CORPUS / "a2s3" / "correct_colab.py"},
    }
    metadata = []
    for number, contents in files.items():
        folder = export / f"submission_{number}"
        folder.mkdir(parents=True)
        for name, content in contents.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy(content, folder / name)
            else:
                (folder / name).write_text(content)
        metadata.append(
            f"submission_{number}:\n  :submitters:\n  - :name: Student {number}\n"
            f"    :sid: '{number}'\n    :email: s{number}@example.edu\n"
        )
    (export / "submission_metadata.yml").write_text("".join(metadata))
    return list(files)


def _batch(export: Path, out: Path, cluster: localslurm.LocalSlurm | None) -> str:
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out)]
    command += ["--timeout", str(TIMEOUT_SECONDS)]
    command += (
        ["--slurm", "--partition", cluster.partition, "--per-task", "2"] if cluster else ["--jobs", "2"]
    )
    environment = cluster.environment() if cluster else None
    finished = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=1200, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as handle:
        return {
            row["submission_id"]: {k: v for k, v in row.items() if k != TIMING_COLUMN}
            for row in csv.DictReader(handle)
        }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("slurm")
    try:
        controller, node = free_ports(2)
        started = localslurm.start(folder, controller_port=controller, node_port=node, install=True)
    except localslurm.PackagesMissing as error:
        pytest.skip(f"no local Slurm: {error}")
    yield started
    localslurm.stop(folder)


@pytest.fixture(scope="module")
def graded_both_ways(cluster, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("class")
    ids = _class(root / "export")
    _batch(root / "export", root / "local", None)
    output = _batch(root / "export", root / "slurm", cluster)
    return root, ids, output


def test_slurm_and_local_batch_give_the_same_grades(graded_both_ways) -> None:
    root, ids, output = graded_both_ways
    assert "Submitted Slurm job" in output and "6 task(s) of up to 2 submission(s)" in output
    local, slurm = _rows(root / "local"), _rows(root / "slurm")
    assert sorted(slurm) == sorted(ids)
    assert slurm == local
    statuses = {number: row["status"] for number, row in slurm.items() if row["status"] != "ok"}
    assert statuses == {
        "200": "student error",
        "202": "untouched template",
        "206": "student error",
        "207": "no file",
        "209": "student error",
    }
    assert slurm["211"]["status_3.5.1"] == "passed", "the §3 threshold run passes through Slurm"
    assert slurm["200"]["total"] == "0" and slurm["200"]["status_1.2.1"] == "timeout", "a hang is graded"
    assert float(slurm["201"]["section_1"]) + float(slurm["201"]["section_2"]) == float(slurm["201"]["total"])
    assert slurm["203"]["status_1.3.2"] == "failed" and slurm["202"]["status_1.2.1"] == "not implemented"


def test_a_slurm_rerun_submits_only_what_is_missing(graded_both_ways, cluster) -> None:
    root, ids, _ = graded_both_ways
    (root / "slurm" / "submissions" / "210" / "outcome.json").unlink()
    output = _batch(root / "export", root / "slurm", cluster)
    assert f"Keeping the grades of {len(ids) - 1} submission(s)" in output
    assert "1 task(s) of up to 2 submission(s)" in output
    assert _rows(root / "slurm")["210"] == _rows(root / "local")["210"]


def test_the_job_array_asks_for_the_partition_gpus_cap_and_time(tmp_path: Path) -> None:
    options = BatchOptions("full", 1, 600.0)
    slurm = SlurmOptions(partition="gpu", gres="gpu:1", max_parallel=4, per_task=3)
    command = sbatch_command(tmp_path, 10, options, slurm)
    assert command[:3] == ["sbatch", "--parsable", "--array=0-9%4"]
    assert {"--partition=gpu", "--gres=gpu:1", "--time=32", "--ntasks=1"} <= set(command)
    script = Path(command[-1]).read_text()
    assert f'-m grader.cluster.task {tmp_path / "manifest.json"} "$SLURM_ARRAY_TASK_ID"' in script
