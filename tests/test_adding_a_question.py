"""Adding a §1 question touches three files, and the corpus follows from `make corpus`.

The three edits are the ones docs/writing-checks.md shows, applied to a copy of the repository; then
the handout is rebuilt and the corpus command run there, as the page says. Everything that changed
must be those three files, the generated student notebook and the corpus expectations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_docs import file_edits

REPO = Path(__file__).resolve().parent.parent
EDITED = {"reference/A2S1.py", "a2/assignment.toml", "a2/checks/test_s1_public.py"}
GENERATED = {"student_template/A2S1.ipynb", "tests/submissions/a2s1/expected.toml"}
GIT = ["git", "-c", "user.name=course staff", "-c", "user.email=staff@example.org"]


@pytest.fixture
def repository_copy() -> Iterator[Path]:
    """The checkout's files (tracked and new, not ignored) in a fresh git repository that the
    sandbox user can reach."""
    top = Path(tempfile.mkdtemp(prefix="a2-question-", dir="/tmp"))
    top.chmod(0o755)
    copy = top / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    subprocess.run([*GIT, "init", "-q"], cwd=copy, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=copy, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "before the question"], cwd=copy, check=True)
    yield copy
    shutil.rmtree(top, ignore_errors=True)


def run(copy: Path, *command: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(
        [sys.executable, *command],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def test_a_new_question_is_three_edits_and_one_corpus_review(repository_copy: Path) -> None:
    copy = repository_copy
    for path, code in file_edits().items():
        with (copy / path).open("a", encoding="utf-8") as handle:
            handle.write("\n\n" + code)
    run(copy, "-m", "handout")
    review = run(copy, "tests/corpus_review.py", "--sections", "1")

    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    changed = {line[3:] for line in status.stdout.splitlines()}
    assert changed == EDITED | GENERATED, status.stdout

    expected = tomllib.loads((copy / "tests/submissions/a2s1/expected.toml").read_text())
    assert all("1.3.3" in entry["failed"] for entry in expected.values()), expected
    assert '+failed = ["1.3.3"]' in review, review
    assert "correct_colab now fails 1.3.3: `query133`" in review, review
    assert "reference_colab_export fails" not in review and "template_colab_export fails" not in review, (
        review
    )
    assert "query133" in (copy / "student_template/A2S1.ipynb").read_text()
