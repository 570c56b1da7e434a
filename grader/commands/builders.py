"""`python -m grader handout|release|package`: the builders, which live outside the grader package.

The rule (tests/test_layout.py): the grader package imports neither `handout` nor `gradescope`. The
grader stands alone: the autograder zip ships grader/ without handout/ and without
gradescope/package.py, and the students' checker carries part of grader/ and nothing else. So these
verbs do not import the builders, statically or otherwise. Each runs the builder's own entry point
as a process of its own, with this interpreter, in the current folder:

    python -m grader handout ARGS   runs   python -m handout ARGS
    python -m grader release ARGS   runs   python -m handout.release ARGS
    python -m grader package ARGS   runs   python -m gradescope.package ARGS

Every word after the verb is passed through unchanged (`--help` too, after the verb's own help), and
the builder's exit status is the verb's. The builder run is the one beside this grader: its source
file is looked for there (a path, not an import), and that folder comes first on the process's
PYTHONPATH. Where the file is absent, as in the autograder image, the verb says so in one line, with
what to run instead, and exits 2. The builders' own entry points work as before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from grader.commands import DESCRIPTION_WIDTH, add_verb

# The folder holding grader/: a checkout of the course repository, or an unpacked autograder zip.
INSTALLATION = Path(__file__).resolve().parents[2]
NOT_FOUND = 2


@dataclass(frozen=True)
class Builder:
    verb: str
    module: str
    source: str  # the module's file, relative to INSTALLATION
    summary: str
    description: str
    examples: tuple[str, ...]

    def missing(self) -> str:
        """The one line saying that this installation has no such builder, and what to run instead."""
        return (
            f"error: `python -m grader {self.verb}` runs `python -m {self.module}`, and {INSTALLATION} has "
            f"no {self.source} (the autograder image ships the grader without the builders): run it in a "
            f"checkout of the course repository, e.g. `{self.examples[0]}`"
        )


BUILDERS = {
    builder.verb: builder
    for builder in (
        Builder(
            "handout",
            "handout",
            "handout/__main__.py",
            "build the student notebooks and the reference outputs",
            "Build, from reference/: student_template/ (the student notebooks, solutions replaced by "
            "TODOs, and the packages the notebooks import), dist/reference/ (the notebooks with their "
            "solutions), dist/reference_submission/ (the solutions as Colab exports them) and "
            "docs/from-scratch.md. Deterministic: a second run changes no byte. docs/handout.md says more.",
            ("python -m grader handout", "python -m grader handout --dist-dir /tmp/a2-dist"),
        ),
        Builder(
            "release",
            "handout.release",
            "handout/release.py",
            "build the archive students get (a2-release-COURSE.zip)",
            "Build dist/COURSE/a2-release-COURSE.zip, the one archive a course hands to students: the "
            "notebooks, the packages they import, that course's check.py and a README for students; no "
            "solution and no hidden check. Run `python -m grader handout` first. docs/handout.md says more.",
            (
                "python -m grader release --course 447",
                "python -m grader release --course 517 --dist /tmp/dist",
            ),
        ),
        Builder(
            "package",
            "gradescope.package",
            "gradescope/package.py",
            "build the zip Gradescope gets (autograder.zip)",
            "Build dist/COURSE/autograder.zip, what the course uploads to Gradescope (the CPU image "
            "Gradescope builds), or with --gpu dist/COURSE/autograder-gpu.zip, the course's own GPU "
            "image (CUDA torch, and the full profile's model and data in the image). Run "
            "`python -m grader handout` first. docs/gradescope.md says more.",
            (
                "python -m grader package --course 447",
                "python -m grader package --course 517 --gpu",
                "A2_FORWARD_DIR=~/a2-forward-447 python -m grader package --course 447",
            ),
        ),
    )
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `handout`, `release` and `package`: each takes every word after it as the builder's."""
    for builder in BUILDERS.values():
        parser = add_verb(
            subparsers,
            builder.verb,
            summary=builder.summary,
            description=textwrap.fill(builder.description, DESCRIPTION_WIDTH)
            + "\n\n"
            + textwrap.fill(
                f"Runs `python -m {builder.module} ARGS` in a process of its own (the grader never "
                f"imports {builder.module.split('.')[0]}/: grader/commands/builders.py); its options "
                "follow this help.",
                DESCRIPTION_WIDTH,
            ),
            examples=builder.examples,
            usage="%(prog)s [ARGS ...]",
            # No option is this verb's own: every word, `--help` included, goes to the builder.
            add_help=False,
            prefix_chars="\0",
        )
        parser.add_argument(
            "arguments", nargs=argparse.REMAINDER, metavar="ARGS", help=f"arguments of {builder.module}"
        )
        parser.set_defaults(func=run, builder=builder, verb_help=parser.format_help)


def run_module(module: str, arguments: list[str]) -> int:
    """Runs `python -m module arguments` with this interpreter and the builder beside this grader
    first on its path; returns its exit status (128 + N when signal N ended it, 130 on Ctrl-C)."""
    path = os.pathsep.join(filter(None, [str(INSTALLATION), os.environ.get("PYTHONPATH")]))
    sys.stdout.flush()
    try:
        finished = subprocess.run(
            [sys.executable, "-m", module, *arguments], env={**os.environ, "PYTHONPATH": path}, check=False
        )
    except KeyboardInterrupt:
        return 130
    return finished.returncode if finished.returncode >= 0 else 128 - finished.returncode


def run(args: argparse.Namespace) -> int:
    builder: Builder = args.builder
    wants_help = any(word in ("-h", "--help") for word in args.arguments)
    if wants_help:
        print(args.verb_help())
    if not (INSTALLATION / builder.source).is_file():
        print(builder.missing(), file=sys.stdout if wants_help else sys.stderr)
        return 0 if wants_help else NOT_FOUND
    if wants_help:
        print(f"The options of `python -m {builder.module}`:\n", flush=True)
    return run_module(builder.module, args.arguments)
