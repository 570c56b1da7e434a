"""Adding a question touches the files its walk-through names, and the corpus follows from `make corpus`.

docs/writing-checks.md walks through three questions: a §1 value, a §2 function with its known bugs, a §3
behaviour with its driver. Each is applied, in the page's order, to one copy of the repository, and what
changed must be exactly the files it names; then the handout is rebuilt and the corpus command run on the
three new tests, as the page says. What changed then must be those files, the generated student notebooks
and the corpus expectations, and the reference must pass every new test.
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
from test_docs import WALK_THROUGH_FILES, apply_edit, walk_through_edits

REPO = Path(__file__).resolve().parent.parent
GENERATED = {
    "student_template/A2S1.ipynb",
    "student_template/A2S2.ipynb",
    "student_template/A2S3.ipynb",
    "tests/submissions/a2s1/expected.toml",
    "tests/submissions/a2s2/expected.toml",
}
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


def changed_files(copy: Path) -> set[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    return {line[3:] for line in status.stdout.splitlines()}


def test_each_walk_through_touches_its_files_and_the_corpus_follows(repository_copy: Path) -> None:
    copy = repository_copy
    for question, files in WALK_THROUGH_FILES.items():
        for edit in walk_through_edits():
            if edit.question == question:
                apply_edit(copy, edit)
        assert changed_files(copy) == files, question
        subprocess.run([*GIT, "commit", "-q", "-a", "-m", question], cwd=copy, check=True)

    run(copy, "-m", "handout")
    review = run(copy, "tests/corpus_review.py", "--tests", ",".join(WALK_THROUGH_FILES))

    assert changed_files(copy) == GENERATED, review
    for folder, number in (("a2s1", "1.3.3"), ("a2s2", "2.1.16")):
        expected = tomllib.loads((copy / "tests/submissions" / folder / "expected.toml").read_text())
        assert all(number in entry["failed"] for entry in expected.values()), (folder, expected)
    assert '+failed = ["1.3.3"]' in review and '+failed = ["2.1.16"]' in review, review
    assert "correct_colab now fails 1.3.3: `query133`" in review, review
    assert "now fails 2.1.16: `attention_entropy`" in review, review
    assert "now fails 3.1.4" not in review, review
    assert "reference_colab_export fails" not in review and "template_colab_export fails" not in review, (
        review
    )
    assert "query133" in (copy / "student_template/A2S1.ipynb").read_text()
    assert "attention_entropy" in (copy / "student_template/A2S2.ipynb").read_text()
