"""`python -m grader batch`: regrade a whole class (a Gradescope export or any folder of submissions).

Writes, under --out: submissions/<id>/ (results.json, logs, outcome.json) for each submission,
grades.csv, report.md and totals.png. Rerunning skips submissions that already finished.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from grader.batch.discovery import BatchInputError, find_submissions
from grader.batch.grades import collect_rows, write_grades_csv
from grader.batch.report import write_report
from grader.batch.runner import BatchOptions, default_timeout, run_batch
from grader.commands.grade import add_run_options
from grader.table import TableError, load_table


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--jobs must be at least 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `batch` command to the grader's command line."""
    parser = subparsers.add_parser(
        "batch",
        help="grade every submission of a folder and summarise the class",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "export_dir",
        type=Path,
        metavar="EXPORT_DIR",
        help="Gradescope's 'Export Submissions' folder, or any folder with one folder per submission",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="OUT_DIR", help="where results go")
    parser.add_argument("--jobs", type=_positive, default=2, help="submissions graded at once (default 2)")
    add_run_options(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds one submission may take before it is stopped and marked 'timeout' "
        "(default: the sum of the table's limits for the graded tests)",
    )
    parser.add_argument("--force", action="store_true", help="regrade submissions that already finished")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Grades the batch, then writes grades.csv and the report; returns the exit status."""
    try:
        table = load_table()
        profile = table.profile(args.profile)
        submissions, warnings = find_submissions(args.export_dir)
    except (BatchInputError, TableError) as error:
        print(f"error: {error}")
        return 2
    for warning in warnings:
        print(f"warning: {warning}")
    jobs = args.jobs
    if jobs > 1 and args.sandbox_user != "auto" and os.geteuid() == 0:
        print(
            f"error: --sandbox-user {args.sandbox_user} would run {jobs} submissions as one user, who could "
            "then reach each other's processes; use --sandbox-user auto (a uid per submission) or --jobs 1"
        )
        return 2
    if profile.device == "cuda" and jobs > 1:
        print(f"Profile {profile.name!r} trains on the GPU: grading one submission at a time, not {jobs}.")
        jobs = 1
    sections = tuple(sorted(args.sections)) if args.sections else None
    timeout = args.timeout or default_timeout(table, sections)
    options = BatchOptions(profile.name, jobs, timeout, sections, args.sandbox_user, args.force)
    args.out.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # No sandbox user may read the class's submissions or results (grades.csv, logs).
        for private in (args.export_dir, args.out):
            private.chmod(0o700)
    print(f"Grading {len(submissions)} submission(s) from {args.export_dir}, {jobs} at a time.")
    try:
        outcomes = run_batch(submissions, args.out, options)
    except KeyboardInterrupt:
        print("Interrupted. Finished submissions are kept; run the same command again to resume.")
        return 130
    graded = table.select(args.sections)
    rows = collect_rows(submissions, outcomes, args.out)
    write_grades_csv(args.out / "grades.csv", rows, graded)
    report = write_report(args.out, rows, graded, table.title)
    counts = Counter(row.outcome.status for row in rows)
    print(f"Done: {counts['ok']} ok, {counts['timeout']} timeout, {counts['error']} error.")
    print(f"Wrote {args.out / 'grades.csv'} and {report}")
    return 0
