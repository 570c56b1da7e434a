"""The grader runs from a virtual environment reached through links: a `.venv` that is a link to a link
to the real folder (a shared course environment, a worktree's link to the main checkout's). The
student's process reads the interpreter through each of those links inside its private root, so a
module it imports late (numpy.random, after confinement) is found as in a plain checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBMISSION = REPO / "tests" / "submissions" / "a2s1" / "correct_colab.py"


def _graded_with(python: Path, folder: Path) -> dict:
    submission = folder / "submission"
    submission.mkdir()
    (submission / "A2S1.py").write_bytes(SUBMISSION.read_bytes())
    results = folder / "results.json"
    command = [str(python), "-m", "grader", "grade", str(submission), "--sections", "1"]
    command += ["--results", str(results), "--quiet"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    return json.loads(results.read_text())


def test_a_venv_reached_through_a_chain_of_links_grades_as_the_real_one(tmp_path: Path) -> None:
    # Outside tmp_path, which the sandbox user cannot traverse: the links must be readable to it.
    links = Path(tempfile.mkdtemp(prefix="a2-links-"))
    try:
        links.chmod(0o755)
        (links / "real").symlink_to(Path(sys.prefix).resolve())
        (links / "hop").symlink_to(links / "real")
        (links / ".venv").symlink_to("hop")
        (tmp_path / "plain").mkdir()
        (tmp_path / "linked").mkdir()
        plain = _graded_with(Path(sys.prefix) / "bin" / "python", tmp_path / "plain")
        linked = _graded_with(links / ".venv" / "bin" / "python", tmp_path / "linked")
    finally:
        shutil.rmtree(links)
    assert plain["score"] > 0
    assert [(test["number"], test["status"]) for test in linked["tests"]] == [
        (test["number"], test["status"]) for test in plain["tests"]
    ]
    assert linked["score"] == plain["score"]
