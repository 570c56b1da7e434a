"""The release a course hands to students: `make release COURSE=447` (`python -m grader release`).

One zip, dist/COURSE/a2-release-COURSE.zip, holding the folder `assignment2/`: the student notebooks
(TODOs, no solutions), `tinygpt/`, that course's checker `check.py` (handout/checker_bundle.py) and a
README for students (handout/student_readme.md, filled in with the course's name and its hidden
tests). Nothing else ships: no solution, no hidden check, no staff text. The notebooks and tinygpt
are taken from student_template/, which `make handout` builds first; the zip is reproducible.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.reproducible_zip import write_reproducible_zip
from grader.table import TableError, courses, load_table
from handout.build import NOTEBOOKS, STUDENT_PACKAGES
from handout.checker_bundle import checker_source

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = REPO_ROOT / "dist"
TOP_FOLDER = "assignment2"
STUDENT_README = Path(__file__).with_name("student_readme.md")


class ReleaseError(RuntimeError):
    """The release cannot be built; the message says what to do."""


def release_path(course: str, dist: Path = DIST) -> Path:
    return dist / course / f"a2-release-{course}.zip"


def student_readme(course: str) -> str:
    """The students' README for `course`: its name and what its hidden tests are worth."""
    table = load_table(course=course)
    hidden = [row for row in table.tests if row.visibility == "hidden"]
    return STUDENT_README.read_text(encoding="utf-8").format(
        course=table.assignment.course,
        hidden_count=len(hidden),
        hidden_points=f"{sum(row.max_score for row in hidden):g}",
    )


def release_entries(course: str, root: Path = REPO_ROOT) -> dict[str, Path | bytes]:
    """Each name inside the release zip and the file (or bytes) it holds."""
    if course not in courses():
        raise ReleaseError(f"no course {course!r}: choose one of {', '.join(courses())}")
    template = root / "student_template"
    missing = [name for name in NOTEBOOKS if not (template / f"{name}.ipynb").is_file()]
    if missing:
        raise ReleaseError(f"{template} lacks {', '.join(missing)}: run `make handout` first")
    entries: dict[str, Path | bytes] = {
        f"{TOP_FOLDER}/{name}.ipynb": template / f"{name}.ipynb" for name in NOTEBOOKS
    }
    for package in STUDENT_PACKAGES:
        for path in sorted((template / package).glob("*.py")):
            entries[f"{TOP_FOLDER}/{package}/{path.name}"] = path
    entries[f"{TOP_FOLDER}/check.py"] = checker_source(root, course).encode()
    entries[f"{TOP_FOLDER}/README.md"] = student_readme(course).encode()
    return entries


def build_release(course: str, dist: Path = DIST, root: Path = REPO_ROOT) -> Path:
    """Writes the course's release zip; returns its path."""
    entries = release_entries(course, root)
    path = release_path(course, dist)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_reproducible_zip(path, entries)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handout.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", required=True, choices=courses(), help="the course the release is for")
    parser.add_argument("--dist", type=Path, default=DIST, help="where dist/COURSE/ is made (default: dist)")
    args = parser.parse_args(argv)
    try:
        path = build_release(args.course, args.dist)
    except (ReleaseError, TableError) as error:
        print(f"release: error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {path}: the notebooks, tinygpt/, check.py and README.md for CSE {args.course}'s students")
    return 0


if __name__ == "__main__":
    sys.exit(main())
