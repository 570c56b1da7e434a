"""The students' local checker: check.py, one file carrying the public grader, built for one course.

What ships is the explicit list of handout/checker_manifest.py, which a test holds to exactly what the
public checks need, and the COURSE file naming the course (grader/packaged_course.py). The file is
built into each course's release (handout/release.py, `make release COURSE=447`), not kept in git:
nobody reads a base64 bundle in a diff.

The zip inside check.py is reproducible (grader.reproducible_zip), so rebuilding the handout
leaves check.py unchanged unless the grader changed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from grader.packaged_course import course_entry
from grader.reproducible_zip import write_reproducible_zip
from grader.table import load_table
from handout.checker_manifest import SHIPPED_FILES

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = "grader/student_check/launcher.py"
BUNDLE_PLACEHOLDER = 'BUNDLE = ""'
NOTEBOOKS_PLACEHOLDER = "NOTEBOOKS: tuple[str, ...] = ()"


class BundleError(RuntimeError):
    """The checker cannot be built; the message says what to fix."""


def bundle_files(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Maps each path inside the checker's bundle to the repository file it copies."""
    missing = [name for name in SHIPPED_FILES if not (root / name).is_file()]
    if missing:
        raise BundleError(
            f"handout/checker_manifest.py ships {', '.join(missing)}, which is missing; "
            "update the manifest to the files there are"
        )
    return {name: root / name for name in SHIPPED_FILES}


def bundle_zip(root: Path, course: str) -> bytes:
    """The bundle for `course` as reproducible zip bytes."""
    buffer = io.BytesIO()
    entries: dict[str, Path | bytes] = {**bundle_files(root), **course_entry(course)}
    write_reproducible_zip(buffer, entries)
    return buffer.getvalue()


def checker_source(root: Path, course: str) -> str:
    """The text of check.py for `course`: the launcher with the bundle and the notebooks' names filled in."""
    launcher = (root / LAUNCHER).read_text(encoding="utf-8")
    for placeholder in (BUNDLE_PLACEHOLDER, NOTEBOOKS_PLACEHOLDER):
        if launcher.count(placeholder) != 1:
            raise BundleError(f"{LAUNCHER} must contain the line {placeholder!r} exactly once")
    encoded = base64.b64encode(bundle_zip(root, course)).decode("ascii")
    lines = "\n".join(encoded[start : start + 100] for start in range(0, len(encoded), 100))
    notebooks = tuple(section.file for section in load_table(course=course).sections.values())
    launcher = launcher.replace(NOTEBOOKS_PLACEHOLDER, f"NOTEBOOKS: tuple[str, ...] = {notebooks!r}")
    return launcher.replace(BUNDLE_PLACEHOLDER, f'BUNDLE = """\n{lines}\n"""')
