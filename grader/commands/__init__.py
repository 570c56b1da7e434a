"""Subcommands of `python -m grader`: each module exposes `register(subparsers)`."""

COMMANDS = (
    "grader.commands.grade",
    "grader.commands.demo",
    "grader.commands.batch",
    "grader.commands.preflight",
)
