"""The verbs of `python -m grader`: one command for every task of the course staff.

Each module of COMMANDS exposes `register(subparsers)`, which adds its verb (or verbs) with
`add_verb`: one line for `python -m grader --help`, a description and an "examples:" epilog for the
verb's own `--help`. A verb calls the `run(args)` of the module that registered it.

- The grader's own verbs live here: `grade`, `batch`, `preflight`, `demo`.
- Verbs whose code is elsewhere in the grader are registered by the module holding that code, which
  keeps its own entry point with the same arguments (`slurm` is `python -m grader.cluster.localslurm`,
  `forward` is `python -m grader.cluster.forward_keys`): it declares a `ModuleVerb`, which serves both.
- An assignment adds verbs of its own the same way, listing their modules in its table
  (``[assignment] commands``), such as a `prepare` that fills the caches its checks load.
- The builders outside the grader package (`handout`, `release`, `package`) are run as processes of
  their own: grader/commands/builders.py says why (the grader never imports them).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

COMMANDS = (
    "grader.commands.builders",
    "grader.commands.grade",
    "grader.commands.batch",
    "grader.commands.preflight",
    "grader.commands.demo",
    "grader.cluster.localslurm",
    "grader.cluster.forward_keys",
)
#: The width descriptions written as one paragraph are wrapped to.
DESCRIPTION_WIDTH = 100


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


@dataclass(frozen=True)
class ModuleVerb:
    """A verb whose code lives in another module of the grader, which keeps its own entry point: the
    verb and `python -m MODULE` take the same arguments (`arguments` adds them), show the same help and
    call the same `run`."""

    name: str
    module: str
    summary: str
    description: str | None
    examples: Sequence[str]
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def register(self, subparsers: argparse._SubParsersAction) -> None:
        """Adds the verb to `python -m grader`."""
        parser = add_verb(
            subparsers, self.name, summary=self.summary, description=self.description, examples=self.examples
        )
        self.arguments(parser)
        parser.set_defaults(func=self.run)

    def main(self, argv: list[str] | None = None) -> int:
        """`python -m MODULE ARGV`, with the verb's help."""
        parser = argparse.ArgumentParser(
            prog=f"python -m {self.module}",
            description=self.description,
            epilog=examples_epilog(self.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.arguments(parser)
        return self.run(parser.parse_args(argv))
