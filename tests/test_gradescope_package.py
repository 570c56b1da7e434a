"""The Gradescope zip holds what grading needs and nothing else; the image's scripts are lint-clean."""

from __future__ import annotations

import io
import re
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.packaged_course import COURSE_FILE, apply_packaged_course
from grader.table import COURSE_VARIABLE, TableError, load_table
from gradescope.package import build_zip
from handout.checker_bundle import bundle_zip

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"

# Every name in the zip must match one of these.
ALLOWED = [
    r"setup\.sh",
    r"run_autograder",
    r"requirements/runtime\.lock",
    r"COURSE",
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
    assert {"setup.sh", "run_autograder", "requirements/runtime.lock"} <= set(zip_names)
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


def test_a_course_zip_names_its_course_and_the_checker_for_it_too(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_zip(tmp_path / "517.zip", course="517")) as archive:
        assert archive.read(COURSE_FILE) == b"517\n"
    with zipfile.ZipFile(build_zip(tmp_path / "base.zip")) as archive:
        assert COURSE_FILE not in archive.namelist(), "the base table's zip names no course"
    with zipfile.ZipFile(io.BytesIO(bundle_zip(course="447"))) as bundle:
        assert bundle.read(COURSE_FILE) == b"447\n"
    with pytest.raises(TableError, match="no course '999'"):
        build_zip(tmp_path / "999.zip", course="999")


def test_the_packaged_course_selects_the_overlay_unless_a2_course_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set first, so that monkeypatch restores the variable's state however the test leaves it.
    monkeypatch.setenv(COURSE_VARIABLE, "447")
    monkeypatch.delenv(COURSE_VARIABLE)
    assert apply_packaged_course(tmp_path) is None and load_table().test("1.4.1").extra_credit
    (tmp_path / COURSE_FILE).write_text("517\n")
    assert apply_packaged_course(tmp_path) == "517"
    assert not load_table().test("1.4.1").extra_credit, "CSE 517 requires 1.4"
    monkeypatch.setenv(COURSE_VARIABLE, "447")
    assert apply_packaged_course(tmp_path) == "447"
