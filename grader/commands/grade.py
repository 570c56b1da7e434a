"""`python -m grader grade`: grade one submission folder and write Gradescope's results.json."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import textwrap
from pathlib import Path

from grader.commands import DESCRIPTION_WIDTH, add_verb
from grader.commands.staff_output import staff_report
from grader.grading_run import GRADER_ERROR, RunOptions, grade_submission
from grader.sanitise import LogFormatter
from grader.score_table import score_table
from grader.table import COURSE_VARIABLE, TableError, courses, load_table, notebook_names


def parse_sections(text: str) -> set[int]:
    """The section numbers of ``--sections``, each one a section of the table."""
    known = ",".join(str(number) for number in load_table().sections)
    try:
        sections = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sections takes numbers such as {known}, not {text!r}") from None
    if not sections or not sections <= set(load_table().sections):
        raise argparse.ArgumentTypeError(f"--sections takes numbers among {known}, not {text!r}")
    return sections


def select_course(course: str | None) -> None:
    """Grades for `course` from here on, in this process and the ones it starts (its overlay of the
    table); None keeps the default: $A2_COURSE, else the course the zip or checker was built for
    (grader.packaged_course), else the base table."""
    if course is not None:
        os.environ[COURSE_VARIABLE] = course


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that grades."""
    parser.add_argument(
        "--course",
        choices=courses(),
        default=None,
        help="the course whose variant of the assignment table grades (its overlay in courses/ beside "
        "the table, which may, say, require a part that another course counts as extra credit); default: "
        "$A2_COURSE, else the course this installation was built for (the COURSE file of the autograder "
        "zip), else the base table",
    )
    parser.add_argument("--profile", default="offline", help=profile_help())
    parser.add_argument(
        "--sections",
        type=parse_sections,
        default=None,
        help="grade only these sections, e.g. 1,2 (default: all)",
    )
    parser.add_argument(
        "--sandbox-user",
        default="auto",
        help="user that runs student code when the grader runs as root: 'auto' (a dedicated uid per run, "
        "the default) or an existing user name such as 'student'; ignored when not root",
    )


def profile_help() -> str:
    """The help of ``--profile``: the table's profiles, each with where it computes (a generic wording
    when the table cannot be read)."""
    try:
        profiles = load_table().profiles
    except (TableError, OSError):
        return "the profile of the table that grades (its models and data); offline is the default"
    named = ", ".join(f"{name} ({profile.device})" for name, profile in profiles.items())
    return (
        "the profile of the table that grades: where the checks compute and which models and data they "
        f"load (docs/table.md): {named}; offline is the default"
    )


def _notebooks_wording() -> str:
    """The assignment's notebooks ("the assignment's notebooks HW1/HW2"), without the names when the
    table cannot be read."""
    return f"the assignment's notebooks {'/'.join(notebook_names())}".strip()


def configure_logging(path: Path | None, verbose: bool) -> None:
    """Instructor log: everything the run did, written to a file (and to stderr with --verbose).

    Records quote student-controlled text, so each is sanitised, and only the grader's own format
    starts a line (grader.sanitise.LogFormatter)."""
    logger = logging.getLogger("grader")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    formatter = LogFormatter("%(asctime)s %(levelname)s %(message)s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="w", encoding="utf-8", errors="backslashreplace")
        path.chmod(0o600)  # the log quotes hidden checks' failures: never readable by the sandbox user
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        logger.addHandler(stream)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_verb(
        subparsers,
        "grade",
        summary="grade one submission, write results.json",
        description=textwrap.fill(
            f"Grade one submission ({_notebooks_wording()} as .py or .ipynb, anywhere in the folder) and "
            "write Gradescope's results.json. Student code runs only in a sandboxed child process. Exits 0 "
            "whenever a results file was written, whatever the submission scored.",
            DESCRIPTION_WIDTH,
        ),
        examples=(
            "python -m grader grade dist/reference_submission --results out/reference.json",
            "python -m grader grade SUBMISSION --results results.json --course 517 --sections 1,2",
            "python -m grader grade SUBMISSION --results results.json --profile full --tests 4.2.1,4.2.3",
        ),
    )
    parser.add_argument("submission", type=Path, help="folder holding the student's files")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results.json"),
        help="where to write results.json (default: ./results.json)",
    )
    add_run_options(parser)
    parser.add_argument(
        "--tests",
        type=lambda text: {part.strip() for part in text.split(",") if part.strip()},
        default=None,
        help="grade only these tests, e.g. 4.2.1,4.2.3 (numbers of assignment.toml; default: all selected)",
    )
    parser.add_argument(
        "--public-only",
        action="store_true",
        help="run only the public tests (what students can run themselves)",
    )
    parser.add_argument(
        "--log", type=Path, default=None, help="instructor log file (default: next to the results, *.log)"
    )
    parser.add_argument("--verbose", action="store_true", help="also print the instructor log to stderr")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing (by default: a summary for staff and the score table)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the run's secret seed, from the instructor log of an earlier run: replays that run exactly "
        "(default: a new secret each run; hidden tests draw their inputs from it)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Stopped by `batch` (or anyone) with SIGTERM, the run still ends its sandboxed children, removes
    # what they left and writes its results, as after Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not args.submission.is_dir():
        print(f"error: {args.submission} is not a folder", file=sys.stderr)
        return 2
    select_course(args.course)
    try:
        table = load_table()
        table.profile(args.profile)
        table.select(numbers=args.tests)
    except TableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log_path = args.log or args.results.with_suffix(".log")
    configure_logging(log_path, args.verbose)
    options = RunOptions(
        submission_dir=args.submission.resolve(),
        results_path=args.results.resolve(),
        profile=args.profile,
        sections=args.sections,
        tests=args.tests,
        public_only=args.public_only,
        sandbox_user=args.sandbox_user,
        seed=args.seed,
    )
    results = grade_submission(options)
    if not args.quiet:
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        print(staff_report(results, log_text, str(log_path), score_table(results)))
    if results["output"] == GRADER_ERROR:
        print(f"error: the grader itself failed; the reason is in {log_path}", file=sys.stderr)
    return 0
