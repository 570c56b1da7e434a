"""Builds dist/autograder.zip, the file instructors upload to Gradescope (`make autograder`).

`--course 517` (`make autograder COURSE=517`) builds the zip for one course variant of the table,
with the course's name in the file COURSE at its root (grader/packaged_course.py), and the students'
checker for that course next to it: dist/517/autograder.zip and dist/517/check.py.

Gradescope unpacks the zip into /autograder/source and runs setup.sh from its root, so the zip holds
exactly what grading needs and nothing a leaked copy should not show: the grader package (hidden
checks and asset code included), tinygpt, the Gradescope scripts and the grading runtime's lock. The
reference notebooks, the student template, this repository's own tests and the builders stay out.
The zip is reproducible (grader/reproducible_zip.py: sorted entries, one fixed date).
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Iterator
from pathlib import Path

from grader.cluster import forward
from grader.packaged_course import course_entry
from grader.reproducible_zip import write_reproducible_zip
from grader.table import TableError, courses

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = REPO_ROOT / "dist"
DEFAULT_OUTPUT = DIST / "autograder.zip"

# Files copied to the zip's root under their own names: Gradescope looks for these two there.
ROOT_SCRIPTS = {"setup.sh": "gradescope/setup.sh", "run_autograder": "gradescope/run_autograder"}
# Single files kept at their repository paths.
SINGLE_FILES = ("requirements/runtime.lock", "gradescope/Dockerfile")
# Packages copied whole (minus caches); these are the grader and the code it imports.
PACKAGES = ("grader", "tinygpt")
# Modules of gradescope/ that run inside the image (package.py itself only builds the zip).
GRADESCOPE_MODULES = ("__init__.py", "autograde.py")

SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def _package_files(package: Path) -> Iterator[Path]:
    """Every file of a package folder, without caches or hidden files."""
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.suffix in SKIPPED_SUFFIXES:
            continue
        yield path


def zip_entries(repo_root: Path = REPO_ROOT) -> dict[str, Path]:
    """Maps each name inside the zip to the repository file it is made from."""
    entries = {name: repo_root / source for name, source in ROOT_SCRIPTS.items()}
    entries.update({name: repo_root / name for name in SINGLE_FILES})
    entries.update({f"gradescope/{name}": repo_root / "gradescope" / name for name in GRADESCOPE_MODULES})
    for package in PACKAGES:
        for path in _package_files(repo_root / package):
            entries[path.relative_to(repo_root).as_posix()] = path
    entries.update(forward.packaged_files())
    missing = sorted(name for name, path in entries.items() if not path.is_file())
    if missing:
        raise SystemExit(f"Cannot build the autograder zip: missing {', '.join(missing)}")
    return entries


def build_zip(output: Path = DEFAULT_OUTPUT, repo_root: Path = REPO_ROOT, course: str | None = None) -> Path:
    """Writes the autograder zip (for `course`, or for the base table) to `output`; returns its path."""
    entries: dict[str, Path | bytes] = dict(zip_entries(repo_root))
    if course is not None:
        entries.update(course_entry(course))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_reproducible_zip(output, entries, executables=ROOT_SCRIPTS)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the Gradescope autograder zip.")
    parser.add_argument(
        "--course",
        default=None,
        help=f"build for this course variant of the table ({', '.join(courses())}): the zip and the "
        "students' checker go to dist/COURSE/ (default: the base table, into dist/autograder.zip)",
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the zip")
    args = parser.parse_args(argv)
    try:
        entry = course_entry(args.course) if args.course is not None else {}
    except TableError as error:
        parser.error(str(error))
    output = args.output or (DIST / args.course / "autograder.zip" if entry else DEFAULT_OUTPUT)
    path = build_zip(output, course=args.course)
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    print(f"Wrote {path} ({count} files, {path.stat().st_size / 1024:.0f} KiB)")
    if entry:
        from handout.checker_bundle import write_checker_bundle

        checker = write_checker_bundle(output.parent, course=args.course)
        print(f"Wrote {checker} (the students' checker for CSE {args.course})")


if __name__ == "__main__":
    main()
