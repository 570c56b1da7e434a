"""`python -m grader batch`: regrade a whole class (a Gradescope export, its zip, or any folder of
submissions), here or on a Slurm cluster.

Writes, under --out: submissions/<id>/ (results.json, logs, outcome.json) for each submission,
grades.csv (one row per student), canvas.csv (Canvas gradebook import), tests.csv (one row per
submission and test), report.md, totals.png and sections.png, each naming the course.

Before grading anyone it checks, where the grading will run, that the grader can grade there
(`grader preflight`: the table, the profile's models and data, a GPU for a GPU profile) and stops
with the fix when it cannot. A rerun grades only what never finished and what has no grade
(`--retry`, by default both `timeout` and `internal`); `--force` regrades everyone. Exits 1, listing
them, when any submission ended with an internal grader error; 2 when the input or the setup cannot be
graded.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections import Counter
from pathlib import Path

from grader.batch.class_report import write_report
from grader.batch.discovery import BatchInputError, Submission, find_submissions, resolve_input
from grader.batch.gradebook import GRADES_FILE, write_gradebook
from grader.batch.grades import GRADER_ERROR, RETRYABLE, STATUSES, GradeRow, collect_rows, split_finished
from grader.batch.lateness import Deadlines, due_date, read_extensions
from grader.batch.pool import BatchOptions, RunOutcome, default_timeout, preflight, run_batch
from grader.cluster.slurm import SlurmError, SlurmOptions, run_on_slurm
from grader.commands import add_verb
from grader.commands.grade import add_run_options, select_course
from grader.sanitise import one_line
from grader.table import AssignmentTable, TableError, load_table


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {value}")
    return value


def _retry_statuses(text: str) -> frozenset[str]:
    names = {part.strip() for part in text.split(",") if part.strip()} - {"none"}
    unknown = names - set(RETRYABLE)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"--retry takes {', '.join(RETRYABLE)} or none, not {', '.join(sorted(unknown))}"
        )
    return frozenset(RETRYABLE[name] for name in names)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `batch` command to the grader's command line."""
    parser = add_verb(
        subparsers,
        "batch",
        summary="regrade a class here or on Slurm: grades.csv, report",
        description=__doc__,
        examples=(
            "python -m grader batch export.zip --out regrade-447 --course 447 --due 2024-02-09T23:59-08:00",
            "python -m grader batch export.zip --out regrade-447 --course 447 --extensions extensions.csv",
            "python -m grader batch export.zip --out regrade-447-gpu --course 447 --profile full",
            "python -m grader batch export.zip --out regrade-447-gpu --course 447 --profile full --slurm "
            "--gres gpu:1 --per-task 10",
        ),
    )
    parser.add_argument(
        "export_dir",
        type=Path,
        metavar="EXPORT",
        help="Gradescope's 'Export Submissions' zip or folder, or any folder with one folder per submission",
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
    parser.add_argument(
        "--retry",
        type=_retry_statuses,
        default=",".join(RETRYABLE),
        metavar="STATUSES",
        help="on a rerun, grade again the submissions whose status is one of these: "
        f"{', '.join(RETRYABLE)}, both by default (they have no grade), or 'none'",
    )
    parser.add_argument("--force", action="store_true", help="regrade every submission, graded or not")
    parser.add_argument(
        "--due",
        type=due_date,
        default=None,
        metavar="WHEN",
        help="the due date with its UTC offset, e.g. 2024-02-09T23:59-08:00: grades.csv then says how "
        "many hours late each submission was (no penalty is applied)",
    )
    parser.add_argument(
        "--extensions",
        type=Path,
        default=None,
        metavar="CSV",
        help="per-student due dates: a CSV with a `due` column and a `sid` or `email` column",
    )
    parser.add_argument(
        "--grader-command",
        type=shlex.split,
        default=None,
        metavar="COMMAND",
        help="how to start the grader for one submission, instead of this interpreter's `python -m grader`, "
        "e.g. 'apptainer exec --nv --bind /scratch a2grader.sif /opt/a2grader/venv/bin/python -m grader' "
        "to grade in the grading image (EXPORT and OUT_DIR must be visible inside it at the same paths)",
    )
    parser.add_argument(
        "--canvas-column",
        default=None,
        metavar="NAME",
        help="the assignment's column in canvas.csv, as Canvas names it, e.g. 'Homework 1 (123456)' "
        "(default: the assignment's title)",
    )
    parser.add_argument(
        "--below",
        type=float,
        default=None,
        metavar="POINTS",
        help="report.md lists the students whose base points are below this (default: 60%% of the maximum)",
    )
    cluster = parser.add_argument_group(
        "Slurm",
        "grade as one Slurm job array (OUT_DIR, EXPORT and this installation on storage every node mounts)",
    )
    cluster.add_argument("--slurm", action="store_true", help="submit the grading to Slurm and wait for it")
    cluster.add_argument(
        "--partition", default=None, help="the Slurm partition (default: the cluster's default)"
    )
    cluster.add_argument("--gres", default=None, help="generic resources per task, e.g. gpu:1")
    cluster.add_argument(
        "--max-parallel",
        type=_positive,
        default=None,
        metavar="N",
        help="at most N tasks at once (default: no cap)",
    )
    cluster.add_argument(
        "--per-task",
        type=_positive,
        default=1,
        metavar="K",
        help="submissions graded by each task (default 1)",
    )
    parser.set_defaults(func=run)


def report_grader_errors(rows: list[GradeRow]) -> int:
    """Prints the submissions that ended with an internal grader error; returns the exit status."""
    failed = [row for row in rows if row.status == GRADER_ERROR]
    if not failed:
        return 0
    print(f"{len(failed)} submission(s) ended with an internal grader error (not the students' fault):")
    for row in failed:
        who = f" ({row.submission.names})" if row.submission.names else ""
        print(one_line(f"  {row.submission.id}{who}: {row.outcome.message or 'see its grader.log'}"))
    print("Fix the cause and run the same command again: only these are graded again.")
    return 1


def _options(args: argparse.Namespace, table: AssignmentTable) -> BatchOptions | str:
    """How each submission is graded, or why these options cannot grade safely."""
    profile = table.profile(args.profile)
    jobs = args.jobs
    at_once = (args.max_parallel or 0) if args.slurm else jobs
    if at_once != 1 and args.sandbox_user != "auto" and os.geteuid() == 0:
        limit = "--max-parallel 1" if args.slurm else "--jobs 1"
        return (
            f"--sandbox-user {args.sandbox_user} would run several submissions at once as one user, "
            f"who could then reach each other's processes; use --sandbox-user auto (a uid per submission) "
            f"or {limit}"
        )
    if profile.device == "cuda" and jobs > 1:
        print(f"Profile {profile.name!r} trains on the GPU: grading one submission at a time, not {jobs}.")
        jobs = 1
    sections = tuple(sorted(args.sections)) if args.sections else None
    return BatchOptions(
        profile.name,
        jobs,
        args.timeout or default_timeout(table, sections),
        sections,
        args.sandbox_user,
        tuple(args.grader_command or ()),
        args.course,
    )


def _grade(
    args: argparse.Namespace, pending: list[Submission], export_dir: Path, options: BatchOptions
) -> dict[str, RunOutcome]:
    """Grades `pending` here or on Slurm; raises SlurmError and KeyboardInterrupt."""
    if args.slurm:
        print(one_line(f"Grading {len(pending)} submission(s) from {export_dir} on Slurm."))
        slurm = SlurmOptions(args.partition, args.gres, args.max_parallel, args.per_task)
        return run_on_slurm(pending, args.out, options, slurm)
    print(one_line(f"Grading {len(pending)} submission(s) from {export_dir}, {options.jobs} at a time."))
    return run_batch(pending, args.out, options)


def _cannot_grade(options: BatchOptions, course: str, on_slurm: bool) -> bool:
    """Runs the preflight where the grading will run (the GPU is checked on each Slurm node, not
    here); prints what keeps this setup from grading, with the fix, and says whether anything does."""
    problem = preflight(options, check_gpu=not on_slurm)
    if not problem:
        return False
    print(f"error: this setup cannot grade {course} on {options.profile!r}:")
    for line in problem.splitlines():
        print(one_line(f"  {line}"))
    print("Nothing was graded. Fix that, then run the same command again.")
    return True


def _deadlines(args: argparse.Namespace) -> Deadlines:
    return Deadlines(args.due, read_extensions(args.extensions) if args.extensions else {})


def run(args: argparse.Namespace) -> int:
    """Grades the batch, then writes the gradebook and the report; returns the exit status."""
    select_course(args.course)
    try:
        table = load_table()
        options = _options(args, table)
        deadlines = _deadlines(args)
        args.out.mkdir(parents=True, exist_ok=True)
        export_dir = resolve_input(args.export_dir, args.out)
        submissions, warnings = find_submissions(export_dir)
    except (BatchInputError, TableError) as error:
        print(one_line(f"error: {error}"))
        return 2
    if isinstance(options, str):
        print(f"error: {options}")
        return 2
    for warning in warnings:
        print(one_line(f"warning: {warning}"))
    course = table.assignment.course
    graded = table.select(args.sections)
    pending, outcomes = split_finished(
        submissions, args.out, graded, frozenset(STATUSES) if args.force else args.retry
    )
    if outcomes:
        print(f"Keeping the grades of {len(outcomes)} submission(s) graded earlier (--force regrades them).")
    if pending and _cannot_grade(options, course, args.slurm):
        return 2
    if os.geteuid() == 0:
        # No sandbox user may read the class's submissions or results (grades.csv, logs).
        for private in {args.export_dir, export_dir, args.out}:
            if private.is_dir():
                private.chmod(0o700)
    try:
        outcomes.update(_grade(args, pending, export_dir, options))
    except SlurmError as error:
        print(one_line(f"error: {error}"))
        return 2
    except KeyboardInterrupt:
        print("Interrupted. Finished submissions are kept; run the same command again to resume.")
        return 130
    rows = collect_rows(submissions, outcomes, args.out, graded)
    below = args.below if args.below is not None else 0.6 * sum(test.max_score for test in graded)
    write_gradebook(args.out, rows, graded, args.canvas_column or table.title, course, deadlines)
    report = write_report(args.out, rows, table, graded, below, deadlines)
    counts = Counter(row.status for row in rows)
    print(f"Done ({course}): " + ", ".join(f"{counts[status]} {status}" for status in STATUSES) + ".")
    print(f"Wrote {args.out / GRADES_FILE}, canvas.csv, tests.csv and {report}")
    return report_grader_errors(rows)
