"""One Slurm array task of a batch: `python -m grader.cluster.task MANIFEST INDEX`.

Grades the submissions the manifest lists under INDEX, one after the other, exactly as the local
batch grades each one (grader.batch.pool.BatchRunner): its own grader process, the sandbox, the
time limit, the outcome.json written last. Slurm sets INDEX from SLURM_ARRAY_TASK_ID.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grader.batch.discovery import Submission
from grader.batch.pool import BatchOptions, BatchRunner, become_subreaper


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
    become_subreaper()
    runner = BatchRunner(Path(manifest["out_dir"]), options)
    for entry in manifest["tasks"][args.index]:
        outcome = runner.grade_one(Submission(entry["id"], Path(entry["folder"])))
        print(
            f"{outcome.id}: {outcome.status} in {outcome.seconds:g} s {outcome.message}".rstrip(), flush=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
