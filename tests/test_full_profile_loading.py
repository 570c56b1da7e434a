"""The `full` profile's loading code against a local Hugging Face cache built here.

The Gradescope image fills the cache with roberta-base and gpt3mix/sst2 when it is built. Here the
cache is built in the same layout from the offline assets: the model as a hub snapshot of
``roberta-base``, the data as the prepared ``gpt3mix/sst2`` arrow files that ``datasets`` reuses
offline. Everything runs in subprocesses, because the Hugging Face libraries read ``HF_HOME`` and
the offline switches when they are imported.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from a2.assets import offline_assets
from handout.colab_export import export_reference

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"
LOAD_FULL_PROFILE = """
from a2.sections.s3.resources import ProfileResourcesMissing, load_resources
from grader.table import load_table
try:
    resources = load_resources(load_table().profile("full"))
except ProfileResourcesMissing as missing:
    print("MISSING", missing)
else:
    print("MODEL", resources.model_dir)
    print("SIZES", {split: len(rows) for split, rows in resources.splits.items()})
    print("VOCAB", len(resources.tokenizer()))
"""


def _hub_model(hf_home: Path, model_dir: Path) -> None:
    repo = hf_home / "hub" / "models--roberta-base"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    shutil.copytree(model_dir, repo / "snapshots" / SNAPSHOT)


def _datasets_cache(hf_home: Path, data_dir: Path) -> None:
    """gpt3mix/sst2 as `datasets` leaves it after a download: prepared arrow files and their info."""
    from datasets import load_dataset

    build = hf_home / "build"
    files = {split: str(data_dir / f"{split}.jsonl") for split in ("train", "validation", "test")}
    load_dataset("json", data_files=files, cache_dir=str(build))
    (prepared,) = [Path(p) for p in glob.glob(str(build / "json" / "*" / "*" / "*")) if os.path.isdir(p)]
    target = hf_home / "datasets" / "gpt3mix___sst2" / "default" / "0.0.0" / prepared.name
    target.mkdir(parents=True)
    for path in prepared.glob("json-*.arrow"):
        shutil.copy(path, target / path.name.replace("json-", "sst2-"))
    info = json.loads((prepared / "dataset_info.json").read_text())
    info.update(builder_name="parquet", dataset_name="sst2", config_name="default")
    (target / "dataset_info.json").write_text(json.dumps(info))
    shutil.rmtree(build)


@pytest.fixture(scope="module")
def hf_home():
    """A filled cache, in a folder the sandbox user can read (pytest's own tmp folders are private)."""
    home = Path(tempfile.mkdtemp(prefix="a2-hf-home-"))
    assets = offline_assets()
    _hub_model(home, assets.model_dir)
    _datasets_cache(home, assets.data_dir)
    for folder, _, names in os.walk(home):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    yield home
    shutil.rmtree(home)


def _run(args: list[str], hf_home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("HF_DATASETS_CACHE", None)
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def test_full_profile_loads_model_tokenizer_and_splits_from_the_cache(hf_home):
    printed = _run(["-c", LOAD_FULL_PROFILE], hf_home).stdout
    assert f"MODEL {hf_home}/hub/models--roberta-base/snapshots/{SNAPSHOT}" in printed
    assert "SIZES {'train': 6920, 'validation': 872, 'test': 1821}" in printed
    vocabulary = int(printed.split("VOCAB ")[1].split()[0])
    assert vocabulary > 100


def test_an_empty_cache_gives_one_clear_message_for_the_staff(tmp_path):
    printed = _run(["-c", LOAD_FULL_PROFILE], tmp_path, timeout=120).stdout
    assert printed.startswith(
        "MISSING The grader could not load the model 'roberta-base' for the 'full' profile"
    )
    assert "not with your code" in printed and "python -m grader prepare full" in printed
    assert "Traceback" not in printed


def test_grading_on_full_without_a_gpu_runs_the_unit_checks_and_says_there_is_no_gpu(hf_home, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "A2S3.py").write_text(export_reference(REPO, "A2S3"))
    results_path = tmp_path / "results.json"
    command = ["-m", "grader", "grade", str(submission), "--results", str(results_path)]
    _run([*command, "--sections", "3", "--profile", "full", "--quiet"], hf_home)
    results = json.loads(results_path.read_text())
    failed = {test["number"]: test["output"] for test in results["tests"] if test["status"] == "failed"}
    assert set(failed) == {"3.5.1"}
    assert "no GPU was found" in failed["3.5.1"] and "not a problem with your code" in failed["3.5.1"]
