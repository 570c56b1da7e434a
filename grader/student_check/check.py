"""Runs the public tests on a student's notebook files and explains the result.

The files are graded exactly as Gradescope grades them: the same intake, the same sandboxed child,
the same checks and messages, only restricted to the public tests (those are all this bundle holds).
The summary then lists the hidden tests by name and points, and says plainly that passing every
public test is not full marks.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# Python packages the grader needs, by import name -> what to pip install.
REQUIRED = {
    "torch": "torch",
    "numpy": "numpy",
    "safetensors": "safetensors",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "datasets": "datasets",
    "pytest": "pytest",
    "pytest_timeout": "pytest-timeout",
    "jsonschema": "jsonschema",
}
ASSETS_CACHE = Path(tempfile.gettempdir()) / "a2check-assets"
# Where the checker's files were unpacked (the repository, when run from it).
BUNDLE_ROOT = Path(__file__).resolve().parents[2]
HIDDEN_NOTE = (
    "Passing every public test does not mean full marks: {count} hidden tests worth {points:g} points "
    "run only on Gradescope, and the written answers are graded by the course staff."
)


class CheckError(Exception):
    """The check cannot start; the message tells the student what to do."""


def missing_packages() -> list[str]:
    return [package for module, package in REQUIRED.items() if importlib.util.find_spec(module) is None]


def collect_submission(
    paths: list[Path], stems: list[str], dest: Path, answers: dict[str, tuple[str, ...]] | None = None
) -> list[str]:
    """Copies the notebook files named by `paths` (files, or folders to search) into `dest`.

    Returns the stems found. The grader's own discovery picks the file for each notebook (given
    each notebook's `answers`, the one implementing the most), so a file is recognised and chosen
    here exactly as Gradescope would.
    """
    from grader.intake.discover import discover

    for path in paths:
        if path.is_dir():
            for stem, found in discover(path, stems, answers).items():
                if found.path is not None:
                    shutil.copy(found.path, dest / f"{stem}{found.path.suffix}")
        elif path.is_file():
            shutil.copy(path, dest / path.name)
        else:
            raise CheckError(f"{path} does not exist.")
    return [stem for stem, found in discover(dest, stems).items() if found.path is not None]


def hidden_summary(table: Any, sections: set[int]) -> list[str]:
    hidden = [row for row in table.select(sections) if row.visibility == "hidden"]
    if not hidden:
        return []
    lines = ["Hidden tests (not run here; Gradescope runs them and shows them after grades are published):"]
    lines += [f"  {row.number:<7} {row.name} ({row.points:g} pt)" for row in hidden]
    lines += ["", HIDDEN_NOTE.format(count=len(hidden), points=sum(row.max_score for row in hidden))]
    return lines


def failure_details(results: dict[str, Any]) -> list[str]:
    """The full message of every failed test (the table shows only its first line), each message once."""
    lines: list[str] = []
    shown: dict[str, str] = {}
    for test in results["tests"]:
        output = test.get("output", "").strip()
        if test["status"] == "passed" or not output:
            continue
        if output in shown:
            lines += [f"{test['number']} {test['name']}: the same reason as {shown[output]}."]
            continue
        shown[output] = test["number"]
        lines += [f"{test['number']} {test['name']}:"]
        lines += [f"    {line}" for line in output.splitlines()]
    return ["Why tests failed:", *lines] if lines else []


def run_check(paths: list[Path]) -> int:
    """Grades the public tests of the notebooks at `paths`, prints the report; returns an exit status."""
    missing = missing_packages()
    if missing:
        raise CheckError(
            "The checker needs these Python packages: " + ", ".join(missing) + ".\n"
            f"Install them with:  pip install {' '.join(missing)}   (in Colab: !pip install ...)"
        )
    os.environ.setdefault("A2_ASSETS_DIR", str(ASSETS_CACHE))
    from grader.packaged_course import apply_packaged_course

    apply_packaged_course(BUNDLE_ROOT)
    from grader.grading_run import RunOptions, grade_submission
    from grader.score_table import score_table
    from grader.table import load_table

    table = load_table()
    stems = {section.file: number for number, section in table.sections.items()}
    with tempfile.TemporaryDirectory(prefix="a2check-submission-") as workdir:
        submission = Path(workdir)
        found = collect_submission(paths, list(stems), submission, table.answers_by_file())
        if not found:
            names = ", ".join(f"{stem}.py" for stem in stems)
            raise CheckError(f"No notebook file found in {', '.join(map(str, paths))} (expected {names}).")
        sections = {stems[stem] for stem in found}
        print(
            f"Checking {', '.join(sorted(found))} against the public tests of {table.assignment.course} "
            "(this takes a minute)..."
        )
        options = RunOptions(submission, submission / "results.json", sections=sections, public_only=True)
        results = grade_submission(options, table)
    print()
    # What was graded, and any file that could not be read (with its line), comes first, once.
    print(results.get("output", "").strip())
    print()
    print(score_table(results, output_last=False))
    for block in (failure_details(results), hidden_summary(table, sections)):
        if block:
            print()
            print("\n".join(block))
    return 0


def _notebooks_wording() -> str:
    """The notebooks the checker looks for ("HW1.py, HW2.py or the .ipynb files"), or a generic wording."""
    from grader.table import notebook_names

    files = [f"{name}.py" for name in notebook_names()]
    if not files:
        return "your exported notebooks (.py or .ipynb files)"
    return f"your exported notebooks ({', '.join(files)} or the .ipynb files)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="check.py",
        description=f"Run the public autograder tests on {_notebooks_wording()} before you submit them.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, default=[Path(".")], help="files, or folders to search (default: .)"
    )
    args = parser.parse_args(argv)
    from grader.sanitise import tolerant_streams

    tolerant_streams()
    try:
        return run_check(args.paths)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
