"""`python -m grader`: one command line for every task of the course staff.

Each verb is registered by a module of grader.commands.COMMANDS, or of the assignment's own commands
(its table's ``[assignment] commands``); grader/commands/__init__.py says how.
`python -m grader VERB --help` describes a verb and gives examples.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from pathlib import Path

from grader.commands import COMMANDS, DESCRIPTION_WIDTH, examples_epilog
from grader.packaged_course import apply_packaged_course
from grader.sanitise import tolerant_streams
from grader.table import TableError, load_table

# The folder holding the grader package: an unpacked autograder zip names its course there.
INSTALLATION = Path(__file__).resolve().parents[1]

EXAMPLES = (
    "python -m grader handout                      # build the notebooks",
    "python -m grader release --course 447         # the archive students get",
    "python -m grader package --course 447         # the zip Gradescope gets",
    "python -m grader grade SUBMISSION --results results.json",
    "python -m grader batch export.zip --out regrade-447 --course 447",
    "python -m grader VERB --help                  # what VERB does, with examples",
)


class VerbListFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps each verb of `python -m grader --help` on one line: argparse measures the verbs at the
    indent of their list, two columns short of where it prints them, so the longest verb would push
    its summary onto the next line."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max(map(len, action.choices), default=0)
            self._action_max_length = max(self._action_max_length, longest + self._current_indent + 2)


def build_parser() -> argparse.ArgumentParser:
    table = load_table()
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description=textwrap.fill(
            f"Handout builder and autograder for {table.title}, one verb for each task of the course "
            "staff. Student code runs in a sandboxed child process; the checks and the verdict stay in "
            "this one.",
            DESCRIPTION_WIDTH,
        ),
        epilog=examples_epilog(EXAMPLES),
        formatter_class=VerbListFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="VERB")
    for name in (*COMMANDS, *table.assignment.commands):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    tolerant_streams()
    apply_packaged_course(INSTALLATION)
    try:
        parser = build_parser()
    except TableError as error:
        print(f"error: the assignment table cannot be used: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    return int(args.func(args))
