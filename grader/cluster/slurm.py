"""Whole-class grading as one Slurm job array: `python -m grader batch EXPORT --out OUT --slurm`.

Slurm does the scheduling (queues, GPUs, fair share, limits); we only describe the work. The
pending submissions are cut into tasks of K; a manifest in OUT/slurm/ lists each task's submissions
and the batch options, and each array task runs `python -m grader.cluster.task MANIFEST INDEX`, which
first checks its node can grade (`grader preflight`, where the GPU is) and then grades its K
submissions one after the other with the local batch's own BatchRunner: the same grader process per
submission, the same sandbox, the same time limit, the same outcome.json. The head
process waits with a progress bar (counting outcome.json files) and reads the results like the local
batch does, so grades.csv and the report come from the same code.

Requirements on the cluster: OUT, EXPORT and this installation on a filesystem every node mounts at
the same path (or --grader-command pointing at the grading image there). A submission whose task
ended without grading it (cancelled, node failure, Slurm's time limit) is recorded as an internal
grader error, so a rerun submits it again, as is one whose node could not grade (no GPU, no model
cache); a rerun submits only what is missing or has no grade.
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from grader.batch.discovery import Submission
from grader.batch.pool import (
    PACKAGE_ROOT,
    BatchOptions,
    RunOutcome,
    read_outcome,
    submission_dir,
    write_outcome,
)

SLURM_FOLDER = "slurm"
POLL_SECONDS = 5.0
# Slack on top of each task's submissions' limits before Slurm's own time limit stops the task.
TASK_SLACK_SECONDS = 120.0
JOB_NAME = "a2-grade"


class SlurmError(RuntimeError):
    """Slurm refused the job or cannot be reached; the message says why."""


@dataclass(frozen=True)
class SlurmOptions:
    """How the job array is shaped: partition, generic resources per task (`gpu:1`), how many tasks
    may run at once (None: as many as Slurm allows) and how many submissions each task grades."""

    partition: str | None = None
    gres: str | None = None
    max_parallel: int | None = None
    per_task: int = 1


def chunks(submissions: list[Submission], size: int) -> list[list[Submission]]:
    return [submissions[start : start + size] for start in range(0, len(submissions), size)]


def write_manifest(path: Path, out_dir: Path, tasks: list[list[Submission]], options: BatchOptions) -> None:
    """What each array task grades, and how (read by grader.cluster.task)."""
    manifest = {
        "out_dir": str(out_dir.resolve()),
        "options": asdict(options),
        "tasks": [[{"id": s.id, "folder": str(s.folder.resolve())} for s in task] for task in tasks],
    }
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def sbatch_command(job_dir: Path, tasks: int, options: BatchOptions, slurm: SlurmOptions) -> list[str]:
    """The sbatch call for the whole array."""
    seconds = slurm.per_task * options.timeout + TASK_SLACK_SECONDS
    array = f"0-{tasks - 1}" + (f"%{slurm.max_parallel}" if slurm.max_parallel else "")
    command = ["sbatch", "--parsable", f"--array={array}", f"--job-name={JOB_NAME}"]
    command += [f"--time={math.ceil(seconds / 60)}", f"--chdir={PACKAGE_ROOT}"]
    command += [f"--output={job_dir / 'task-%a.log'}", "--ntasks=1"]
    if slurm.partition:
        command.append(f"--partition={slurm.partition}")
    if slurm.gres:
        command.append(f"--gres={slurm.gres}")
    task = [sys.executable, "-m", "grader.cluster.task", str(job_dir / "manifest.json")]
    script = (
        "#!/bin/sh\n"
        "# One task of a batch: grades the submissions the manifest lists under this array index.\n"
        f'exec {shlex.join(task)} "$SLURM_ARRAY_TASK_ID"\n'
    )
    (job_dir / "task.sh").write_text(script, encoding="utf-8")
    return [*command, str(job_dir / "task.sh")]


def _slurm(command: list[str]) -> str:
    if not shutil.which(command[0]):
        raise SlurmError(f"`{command[0]}` is not on PATH: run the batch on a machine that submits Slurm jobs")
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise SlurmError(f"`{' '.join(command)}` failed: {(finished.stderr or finished.stdout).strip()}")
    return finished.stdout.strip()


def job_running(job_id: str) -> bool:
    """Whether any task of the array is still queued or running."""
    return bool(_slurm(["squeue", "-h", "-j", job_id, "-o", "%i"]))


def submit(submissions: list[Submission], out_dir: Path, options: BatchOptions, slurm: SlurmOptions) -> str:
    """Submits the array for `submissions`; returns the job id."""
    tasks = chunks(submissions, slurm.per_task)
    job_dir = out_dir / SLURM_FOLDER / time.strftime("%Y%m%d-%H%M%S")
    job_dir.mkdir(parents=True, exist_ok=True)
    for submission in submissions:
        folder = submission_dir(out_dir, submission)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "outcome.json").unlink(missing_ok=True)
    write_manifest(job_dir / "manifest.json", out_dir, tasks, options)
    job_id = _slurm(sbatch_command(job_dir, len(tasks), options, slurm)).split(";")[0]
    (job_dir / "job_id").write_text(job_id + "\n", encoding="utf-8")
    print(f"Submitted Slurm job {job_id}: {len(tasks)} task(s) of up to {slurm.per_task} submission(s).")
    print(f"Task logs: {job_dir}")
    return job_id


def wait(job_id: str, submissions: list[Submission], out_dir: Path) -> None:
    """Waits for the array, with a progress bar of graded submissions."""
    done: set[str] = set()
    with tqdm(total=len(submissions), desc="Grading on Slurm", unit="submission") as progress:
        while True:
            running = job_running(job_id)
            for submission in submissions:
                if submission.id not in done and read_outcome(submission_dir(out_dir, submission)):
                    done.add(submission.id)
                    progress.update(1)
            if not running or len(done) == len(submissions):
                return
            time.sleep(POLL_SECONDS)


def run_on_slurm(
    pending: list[Submission], out_dir: Path, options: BatchOptions, slurm: SlurmOptions
) -> dict[str, RunOutcome]:
    """Grades `pending` as one job array; returns each one's outcome.
    Ctrl-C cancels the array; what finished is kept for the next run."""
    outcomes: dict[str, RunOutcome] = {}
    if not pending:
        return outcomes
    job_id = submit(pending, out_dir, options, slurm)
    try:
        wait(job_id, pending, out_dir)
    except KeyboardInterrupt:
        subprocess.run(["scancel", job_id], check=False)
        print(f"Cancelled Slurm job {job_id}.")
        raise
    for submission in pending:
        folder = submission_dir(out_dir, submission)
        outcome = read_outcome(folder)
        if outcome is None:
            message = (
                f"the Slurm task of job {job_id} ended without grading it (see its log in {SLURM_FOLDER}/)"
            )
            outcome = RunOutcome(submission.id, "error", 0.0, message)
            write_outcome(folder, outcome)
        outcomes[submission.id] = outcome
    return outcomes
