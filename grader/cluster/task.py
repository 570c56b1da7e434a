"""One Slurm array task of a batch: `python -m grader.cluster.task MANIFEST INDEX`.

Grades the submissions the manifest lists under INDEX, one after the other, exactly as the local
batch grades each one (grader.batch.pool.BatchRunner): its own grader process, the sandbox, the
time limit, the outcome.json written last. Slurm sets INDEX from SLURM_ARRAY_TASK_ID.

First it checks that this node can grade (grader preflight: the GPU the head node cannot see, the
model cache as this node mounts it); if not, every submission of the task is recorded as an
internal grader error with the reason, so the batch lists the fix and a rerun grades them.
"""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

from grader.batch.discovery import Submission
from grader.batch.pool import (
    BatchOptions,
    BatchRunner,
    RunOutcome,
    become_subreaper,
    preflight,
    submission_dir,
    write_outcome,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("index", type=int)
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    raw = manifest["options"]
    sections = tuple(raw["sections"]) if raw["sections"] is not None else None
    options = BatchOptions(**{**raw, "sections": sections, "grader_command": tuple(raw["grader_command"])})
    out_dir = Path(manifest["out_dir"])
    submissions = [Submission(entry["id"], Path(entry["folder"])) for entry in manifest["tasks"][args.index]]
    problem = preflight(options)
    if problem:
        message = f"node {socket.gethostname()} cannot grade: {problem}"
        print(message, flush=True)
        for submission in submissions:
            outcome = RunOutcome(submission.id, "error", 0.0, message)
            write_outcome(submission_dir(out_dir, submission), outcome)
        return 1
    become_subreaper()
    runner = BatchRunner(out_dir, options)
    for submission in submissions:
        outcome = runner.grade_one(submission)
        print(
            f"{outcome.id}: {outcome.status} in {outcome.seconds:g} s {outcome.message}".rstrip(), flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
