"""The verbs of `python -m grader`: one command for every task of the course staff.

Each module of COMMANDS exposes `register(subparsers)`, which adds its verb (or verbs) with
`add_verb`: one line for `python -m grader --help`, a description and an "examples:" epilog for the
verb's own `--help`. A verb calls the `run(args)` of the module that registered it.

- The grader's own verbs live here: `grade`, `batch`, `preflight`, `demo`.
- Verbs whose code is elsewhere in the grader are registered by the module holding that code, which
  keeps its own entry point with the same arguments (`prepare` is `python -m
  grader.sections.s3.prepare`, `slurm` is `python -m grader.cluster.localslurm`, `forward` is
  `python -m grader.cluster.forward_keys`); `standalone_parser` gives that entry point the verb's help.
- The builders outside the grader package (`handout`, `release`, `package`) are run as processes of
  their own: grader/commands/builders.py says why (the grader never imports them).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

COMMANDS = (
    "grader.commands.builders",
    "grader.sections.s3.prepare",
    "grader.commands.grade",
    "grader.commands.batch",
    "grader.commands.preflight",
    "grader.commands.demo",
    "grader.cluster.localslurm",
    "grader.cluster.forward_keys",
)


def examples_epilog(examples: Sequence[str]) -> str:
    """The end of a verb's --help: its examples, one command a line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in examples)


def add_verb(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    summary: str,
    description: str | None,
    examples: Sequence[str],
    **options: Any,
) -> argparse.ArgumentParser:
    """Adds the verb `name`: `summary` is its line in `python -m grader --help`; its own --help shows
    `description` as written, then `examples`. `options` go to the verb's ArgumentParser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=examples_epilog(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **options,
    )
    return parser


def standalone_parser(prog: str, description: str | None, examples: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of a module's own entry point (`python -m grader.sections.s3.prepare`), with the
    help its verb has."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=examples_epilog(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
