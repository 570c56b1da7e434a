"""Where the assignment the engine grades lives: a folder holding its table, courses and checks.

The engine (everything under ``grader/``) knows no assignment. It grades the one whose folder holds
``assignment.toml`` (with ``courses/`` beside it and its checks in ``checks/``): the folder named by
``$GRADER_ASSIGNMENT``, or else the one top-level folder of the repository that holds a table. Its
Python code is imported by the names its table declares, so that folder's parent must be importable
(the repository root is, in every entry point).

Finding none, or more than one, is not an error until a table is read: the student's process
imports the table's types but never reads one, and its staged copy holds no assignment at all.
``load_table`` then says what was found and how to name the one meant (``LOCATION_PROBLEM``).
"""

from __future__ import annotations

import os
from pathlib import Path

ASSIGNMENT_VARIABLE = "GRADER_ASSIGNMENT"
REPO_ROOT = Path(__file__).resolve().parents[1]
TABLE_NAME = "assignment.toml"


def locate() -> tuple[Path, str]:
    """The assignment's folder, and why it is not one ("" when it is)."""
    named = os.environ.get(ASSIGNMENT_VARIABLE)
    if named:
        folder = Path(named).resolve()
        problem = (
            ""
            if (folder / TABLE_NAME).is_file()
            else f"${ASSIGNMENT_VARIABLE} is {named}, which holds no {TABLE_NAME}"
        )
        return folder, problem
    found = sorted(table.parent for table in REPO_ROOT.glob(f"*/{TABLE_NAME}"))
    if len(found) == 1:
        return found[0], ""
    listed = ", ".join(folder.name for folder in found) or "none"
    return REPO_ROOT, (
        f"expected one folder of {REPO_ROOT} holding {TABLE_NAME} (found: {listed}); name the assignment to "
        f"grade with ${ASSIGNMENT_VARIABLE}"
    )


ASSIGNMENT_DIR, LOCATION_PROBLEM = locate()
CHECKS_DIR = ASSIGNMENT_DIR / "checks"
