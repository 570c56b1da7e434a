"""`python -m grader`: the command line of the grader."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from grader.commands import COMMANDS
from grader.packaged_course import apply_packaged_course
from grader.sanitise import tolerant_streams

# The folder holding the grader package: an unpacked autograder zip names its course there.
INSTALLATION = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Autograder for Assignment 2: Attention and Transformers. Student code runs in a "
        "sandboxed child process; the checks and the verdict stay in this one.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    tolerant_streams()
    apply_packaged_course(INSTALLATION)
    args = build_parser().parse_args(argv)
    return int(args.func(args))
