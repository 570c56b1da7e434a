"""The students' local checker, run as students run it: `python check.py ...` from the course's
release (`make release COURSE=517`), next to the notebooks it was handed out with.

As root (CI, Colab) the student's code runs as another user; as a normal user (a laptop) it runs as
that user. Both are exercised. On a system it does not support (Windows) it says so in one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.table import load_table
from handout.build import build
from handout.release import TOP_FOLDER, build_release

COURSE = "517"

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[Path, Path]]:
    """CSE 517's release unpacked (the notebooks and check.py), and `make handout`'s dist/ (the
    reference notebooks and submission), under /tmp with open permissions so that an unprivileged
    user can run the checker."""
    top = Path(tempfile.mkdtemp(prefix="a2-checker-", dir="/tmp"))
    top.chmod(0o755)
    dist_dir = top / "dist"
    build(REPO, top / "student_template", dist_dir)
    with zipfile.ZipFile(build_release(COURSE, top / "releases")) as release:
        release.extractall(top)
    release_dir = top / TOP_FOLDER
    shutil.copy(release_dir / "check.py", dist_dir / "check.py")
    for folder in (top, release_dir, dist_dir):
        folder.chmod(0o755)
    yield release_dir, dist_dir
    shutil.rmtree(top, ignore_errors=True)


def run_checker(check_py: Path, *args: str, cwd: Path, as_user: int | None = None) -> str:
    finished = subprocess.run(
        [sys.executable, str(check_py), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        user=as_user,
        group=as_user,
        extra_groups=[] if as_user is not None else None,
        env={**os.environ, "HOME": str(cwd)} if as_user is not None else None,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def _rows(output: str) -> dict[str, str]:
    """The score table's rows (between its two rules), by test number."""
    lines = output.splitlines()
    rules = [index for index, line in enumerate(lines) if line.startswith("-----")]
    return {line.split()[0]: line for line in lines[rules[0] + 1 : rules[1]]}


def test_reference_passes_every_public_test_and_hidden_ones_are_named(built: tuple[Path, Path]) -> None:
    _, dist_dir = built
    output = run_checker(dist_dir / "check.py", cwd=dist_dir / "reference_submission")
    table = load_table()
    public = [row.number for row in table.select(public_only=True)]
    rows = _rows(output)
    assert sorted(rows) == sorted(public), "exactly the public tests run"
    assert all(" ok " in rows[number] for number in public), output
    assert "does not mean full marks" in output
    assert "against the public tests of CSE 517" in output and "(CSE 517)" in output
    assert "§3's finetuning was checked on a small stand-in model, not on SST-2" in output
    assert "profile" not in output, "the checker speaks to students, not of the grader's profiles"
    hidden = [row for row in table.tests if row.visibility == "hidden"]
    assert all(f"{row.number:<7} {row.name}" in output for row in hidden), output


def test_template_rows_say_not_implemented_for_an_unprivileged_user(built: tuple[Path, Path]) -> None:
    student_dir, dist_dir = built
    home = Path(tempfile.mkdtemp(prefix="a2-student-home-", dir="/tmp"))
    home.chmod(0o777)
    try:
        shutil.copy(student_dir / "A2S2.ipynb", home / "A2S2.ipynb")
        as_user = NOBODY if os.geteuid() == 0 else None
        output = run_checker(dist_dir / "check.py", "A2S2.ipynb", cwd=home, as_user=as_user)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows = _rows(output)
    public_two = [row.number for row in load_table().tests if row.section == 2 and row.visibility == "public"]
    assert all("FAILED" in rows[number] for number in public_two), output
    assert "`self_attention` is not implemented yet" in output
    assert not any(number.startswith("1.") for number in rows), "only the given notebook is checked"


def test_a_broken_file_is_named_with_its_line(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, dist_dir = built
    broken = tmp_path / "A2S1.py"
    broken.write_text("import torch\n\nquery121 = torch.tensor([1.0, 2.0, 3.0]\nquery122 = None\n")
    output = run_checker(dist_dir / "check.py", str(broken), cwd=tmp_path)
    rows = _rows(output)
    assert all("FAILED" in rows[number] for number in rows), output
    assert "line 3" in output, output


FAKE_COLAB = """
import json, os


def blocking_request(request, timeout_sec=None):
    assert request == "get_ipynb"
    with open(os.environ["FAKE_NOTEBOOK"]) as handle:
        return {"ipynb": json.load(handle)}
"""


def test_in_colab_the_open_notebook_is_checked(built: tuple[Path, Path], tmp_path: Path) -> None:
    """Colab's one cell, with google.colab's notebook request stood in for by the reference notebook."""
    _, dist_dir = built
    fake = tmp_path / "fake" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "_message.py").write_text(FAKE_COLAB)
    env = {
        **os.environ,
        "PYTHONPATH": f"{dist_dir}:{tmp_path / 'fake'}",
        "FAKE_NOTEBOOK": str(dist_dir / "reference" / "A2S1.ipynb"),
    }
    cell = "import check; check.check_this_notebook('A2S1')"
    finished = subprocess.run(
        [sys.executable, "-c", cell],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = _rows(finished.stdout)
    assert sorted(rows) == sorted(row.number for row in load_table().select({1}, public_only=True))
    assert all(" ok " in row for row in rows.values()), finished.stdout


def test_on_an_unsupported_system_it_says_so_in_one_line(built: tuple[Path, Path], tmp_path: Path) -> None:
    """Windows stood in for by `os.name`, set once the standard modules check.py imports are loaded:
    one line naming Colab, no traceback."""
    release_dir, _ = built
    check_py = release_dir / "check.py"
    script = (
        "import base64, io, json, os, runpy, sys, tempfile, zipfile; os.name = 'nt'; "
        "sys.argv = ['check.py']; "
        f"runpy.run_path({str(check_py)!r}, run_name='__main__')"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert finished.returncode == 2 and finished.stdout == ""
    assert finished.stderr.count("\n") == 1 and "Colab" in finished.stderr
    assert "Traceback" not in finished.stderr
