"""The test session leaves the host's permissions as it found them.

As root, tests/conftest.py opens the folders above the checkout to the sandbox user for the session;
here it runs in a pytest session of its own, in a copy placed under a closed folder, and that folder
must be open during the session and closed again after it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import os
import stat
from pathlib import Path


def test_the_closed_folder_is_open_during_the_session():
    closed = Path(__file__).resolve().parents[2]
    assert closed.stat().st_mode & stat.S_IXOTH
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the conftest changes permissions only as root")
def test_folders_opened_for_the_session_are_closed_again() -> None:
    top = Path(tempfile.mkdtemp(prefix="a2-perms-"))
    try:
        closed = top / "closed"
        tests = closed / "repo" / "tests"
        tests.mkdir(parents=True)
        closed.chmod(0o700)
        shutil.copy(REPO / "tests" / "conftest.py", tests / "conftest.py")
        (tests / "test_probe.py").write_text(PROBE, encoding="utf-8")
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
            cwd=tests.parent,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(top, ignore_errors=True)
