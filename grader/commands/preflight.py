"""`python -m grader preflight`: can this machine grade, before anyone is graded?

A class regrade that starts on a machine the grader cannot work on grades every student wrong: with
no model cache every test that finetunes fails, and `--profile full` without a GPU cannot finetune. Those are
the staff's to fix, so `grader batch` runs this first (through the same command that grades, so
inside the grading image under `--grader-command`; on each Slurm node before its task grades) and
stops before grading anyone, printing the command that fixes it. It checks that the assignment table
(with the course's overlay) loads, that the profile exists, that the resources the graded sections
declare (a model, data) load, and that a GPU profile has a GPU. Exits 0 saying what it checked, 2
naming each problem.
"""

from __future__ import annotations

import argparse

from grader.commands import add_verb
from grader.commands.grade import add_run_options, select_course
from grader.section_resources import declared_resources
from grader.table import TableError, load_table

NO_GPU = (
    "the {profile!r} profile finetunes on a GPU and this machine has none (torch.cuda.is_available() is "
    "False): grade where there is one (`--slurm --gres gpu:1`, or `--grader-command` with the image run "
    "with its GPU, e.g. `apptainer exec --nv`), or choose `--profile offline`"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `preflight` command to the grader's command line."""
    parser = add_verb(
        subparsers,
        "preflight",
        summary="check that this machine can grade, before a batch",
        description=__doc__,
        examples=(
            "python -m grader preflight --course 447",
            "python -m grader preflight --course 447 --profile full   # after python -m grader prepare full",
        ),
    )
    add_run_options(parser)
    parser.add_argument(
        "--no-gpu-check",
        action="store_true",
        help="skip the GPU check (the head node of a Slurm batch, whose tasks check on their own node)",
    )
    parser.set_defaults(func=run)


def problems(profile_name: str, sections: set[int] | None, check_gpu: bool) -> list[str]:
    """What keeps this machine from grading with `profile_name`, each with its fix (empty: nothing)."""
    try:
        table = load_table()
        profile = table.profile(profile_name)
        found = [
            problem
            for resources in declared_resources(table, sections).values()
            if (problem := resources.missing(profile)) is not None
        ]
    except TableError as error:
        return [f"the assignment table cannot be used: {error}"]
    if check_gpu and profile.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            found.append(NO_GPU.format(profile=profile.name))
    return found


def run(args: argparse.Namespace) -> int:
    select_course(args.course)
    found = problems(args.profile, args.sections, not args.no_gpu_check)
    for problem in found:
        print(f"error: {problem}")
    if found:
        return 2
    print(f"ready to grade {load_table().assignment.course} on the {args.profile!r} profile")
    return 0
