"""The course a built bundle was made for: one table, a course overlay for each course that grades it.

`make autograder COURSE=NAME` writes the course's name into the file COURSE at the root of the
Gradescope zip and of the students' checker. Grading reads it from there, so each course's zip grades
with its overlay (one may require a part that another counts as extra credit), with no setting on
Gradescope; A2_COURSE, when set, still wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.table import COURSE_VARIABLE, TableError, courses

COURSE_FILE = "COURSE"


def apply_packaged_course(bundle_root: Path) -> str | None:
    """Selects the course named in `bundle_root`/COURSE, unless A2_COURSE is set; returns the course."""
    path = bundle_root / COURSE_FILE
    if path.is_file():
        os.environ.setdefault(COURSE_VARIABLE, path.read_text(encoding="utf-8").strip())
    return os.environ.get(COURSE_VARIABLE) or None


def course_entry(course: str) -> dict[str, bytes]:
    """The COURSE file naming `course` for a bundle; `course` must be one of the table's overlays."""
    if course not in courses():
        raise TableError(f"no course {course!r}: the table has overlays for {', '.join(courses())}")
    return {COURSE_FILE: f"{course}\n".encode()}
