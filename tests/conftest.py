"""Shared set-up for the project's own tests."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from a2.assets import offline_assets

REPO_ROOT = Path(__file__).resolve().parents[1]

# Fixture folders hold graded checks (the core ones, the toy assignment's) and student-style files, not tests
# of this project.
collect_ignore = ["core_checks", "submissions", "toy_assignment"]

# What `make test-fast` leaves out (`-m "not slow"`): whole modules that grade the corpus, execute the
# notebooks, train, or build and run the release artefacts, and single tests that do the same.
SLOW_MODULES = {
    "test_grade_corpus.py",
    "test_realistic.py",
    "test_honest_corpus.py",
    "test_grade_s3.py",
    "test_reference_notebooks.py",
    "test_reference_a2s3.py",
    "test_student_checker.py",
    "test_batch_regrade.py",
    "test_gradescope_autograder.py",
    "test_full_profile_loading.py",
    "test_adding_a_question.py",
    "test_batch_slurm.py",
}
SLOW_TESTS = {
    "test_grading_run.py::test_grading_the_whole_reference_twice_gives_identical_results",
    "test_handout.py::test_student_notebook_runs_until_its_first_todo",
    "test_forward.py::test_a_forwarded_threshold_run_replaces_the_cpu_result",
    "test_forward.py::test_a_notebook_that_forges_the_forward_gains_nothing_on_a_root_account",
    "test_docs_commands.py::test_the_task_pages_commands_run_and_give_what_the_pages_promise",
    "test_containment.py::test_batch_grades_every_hostile_submission_and_nothing_leaks_or_stays",
    "test_containment.py::test_run_autograder_hides_the_metadata_and_reports_the_confinement",
    "test_containment.py::test_a_key_one_submission_stores_never_reaches_the_next_graded_as_the_same_user",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.name
        if module in SLOW_MODULES or f"{module}::{getattr(item, 'originalname', item.name)}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


# Folders whose mode the session changed, with the mode each had: put back when the session ends.
OPENED: list[tuple[Path, int]] = []


def pytest_sessionstart() -> None:
    """As root, let the sandbox's unprivileged uid reach the checkout (traverse only, no listing).

    The privilege-drop tests run the student's process as a uid with no rights of its own; it must be
    able to reach the interpreter and this checkout, wherever CI cloned it. Only folders that lack the
    bit are changed, and pytest_sessionfinish gives them back the mode they had.
    """
    if os.geteuid() != 0:
        return
    for directory in (REPO_ROOT, *REPO_ROOT.parents):
        mode = stat.S_IMODE(directory.stat().st_mode)
        if not mode & stat.S_IXOTH:
            os.chmod(directory, mode | stat.S_IXOTH)
            OPENED.append((directory, mode))


def pytest_sessionfinish() -> None:
    """Leave the host's permissions as they were found."""
    while OPENED:
        directory, mode = OPENED.pop()
        os.chmod(directory, mode)


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
