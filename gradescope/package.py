"""Builds dist/autograder.zip, the file instructors upload to Gradescope (`make autograder`).

Gradescope unpacks the zip into /autograder/source and runs setup.sh from its root, so the zip holds
exactly what grading needs and nothing a leaked copy should not show: the grader package (hidden
checks and asset code included), tinygpt, the Gradescope scripts and the dependency lock. The
reference notebooks, the student template, this repository's own tests and the builders stay out.
The zip is reproducible (grader/reproducible_zip.py: sorted entries, one fixed date).
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Iterator
from pathlib import Path

from grader.cluster import forward
from grader.reproducible_zip import write_reproducible_zip

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "dist" / "autograder.zip"

# Files copied to the zip's root under their own names: Gradescope looks for these two there.
ROOT_SCRIPTS = {"setup.sh": "gradescope/setup.sh", "run_autograder": "gradescope/run_autograder"}
# Single files kept at their repository paths.
SINGLE_FILES = ("requirements.lock", "gradescope/Dockerfile")
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


def build_zip(output: Path = DEFAULT_OUTPUT, repo_root: Path = REPO_ROOT) -> Path:
    """Writes the autograder zip to `output` and returns its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    write_reproducible_zip(output, zip_entries(repo_root), executables=ROOT_SCRIPTS)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the Gradescope autograder zip.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the zip")
    args = parser.parse_args(argv)
    path = build_zip(args.output)
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    print(f"Wrote {path} ({count} files, {path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
