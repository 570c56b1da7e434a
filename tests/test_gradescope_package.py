"""The Gradescope zip holds what grading needs and nothing else; the image's scripts are lint-clean."""

from __future__ import annotations

import re
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from gradescope.package import build_zip

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"

# Every name in the zip must match one of these.
ALLOWED = [
    r"setup\.sh",
    r"run_autograder",
    r"requirements\.lock",
    r"gradescope/(__init__|autograde)\.py",
    r"gradescope/Dockerfile",
    r"grader/.+\.(py|toml|json)",
    r"grader/checks/pytest\.ini",
    r"tinygpt/.+\.py",
]
FORBIDDEN_PREFIXES = ("reference/", "student_template/", "tests/", "handout/", "bench/", "dist/", ".")


@pytest.fixture(scope="module")
def zip_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip")
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_zip_holds_only_allowed_files(zip_names: list[str]) -> None:
    strays = [name for name in zip_names if not any(re.fullmatch(pattern, name) for pattern in ALLOWED)]
    assert not strays, f"files outside the allow-list: {strays}"
    leaked = [name for name in zip_names if name.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in name]
    assert not leaked, f"files that must never ship: {leaked}"


def test_zip_has_gradescope_entry_points_and_every_grader_file(zip_names: list[str]) -> None:
    assert {"setup.sh", "run_autograder", "requirements.lock"} <= set(zip_names)
    on_disk = {
        path.relative_to(REPO).as_posix()
        for package in ("grader", "tinygpt")
        for path in (REPO / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert on_disk - set(zip_names) == set(), "grader modules missing from the zip"
    assert any(name.startswith("grader/checks/") for name in zip_names), "the checks must ship"


def test_scripts_are_executable_and_the_zip_is_reproducible(tmp_path: Path) -> None:
    first = build_zip(tmp_path / "a.zip")
    second = build_zip(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        for name in ("setup.sh", "run_autograder"):
            mode = archive.getinfo(name).external_attr >> 16
            assert mode & stat.S_IXUSR, f"{name} is not executable in the zip"


def test_dockerfile_and_scripts_are_lint_clean() -> None:
    checks = [
        [str(VENV_BIN / "hadolint"), "gradescope/Dockerfile"],
        [str(VENV_BIN / "shellcheck"), "gradescope/setup.sh", "gradescope/run_autograder"],
    ]
    for command in checks:
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
