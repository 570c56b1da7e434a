"""Shared set-up for the project's own tests."""

from __future__ import annotations

import os
import stat
from pathlib import Path

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
