"""Shared set-up for the project's own tests."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader.assets import offline_assets

REPO_ROOT = Path(__file__).resolve().parents[1]

# Fixture folders hold graded checks and student-style files, not tests of this project.
collect_ignore = ["core_checks", "submissions"]


def pytest_sessionstart() -> None:
    """As root, let the sandbox's unprivileged uid reach the checkout (traverse only, no listing).

    The privilege-drop tests run the student's process as a uid with no rights of its own; it must be
    able to reach the interpreter and this checkout, wherever CI cloned it.
    """
    if os.geteuid() != 0:
        return
    for directory in (REPO_ROOT, *REPO_ROOT.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(directory, mode | stat.S_IXOTH)


@pytest.fixture
def offline_notebook_env(tmp_path: Path) -> dict[str, str]:
    """Kernel environment that runs a notebook quick, offline, on the offline profile's assets."""
    assets = offline_assets()
    return {
        "A2_QUICK": "1",
        "A2S3_MODEL": str(assets.model_dir),
        "A2S3_DATASET": str(assets.data_dir),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
