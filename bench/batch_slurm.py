"""Throughput of whole-class grading: the local batch (--jobs 2) against a one-node Slurm (--slurm),
on bench.batch_cpu's class of ten submissions, §1 and §2 only (minutes, not tens of minutes).

Starts its own Slurm (grader.cluster.localslurm, ports 46817/46818) and stops it at the end; needs
root and Debian's slurm-wlm and munge (installed with apt-get when missing). Prints submissions per
minute for each way. Usage: ``python -m bench.batch_slurm [--per-task K]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.batch_cpu import REPO, write_class
from grader.cluster import localslurm


def _timed(command: list[str], environment: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env=environment, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_slurm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-task", type=int, default=1, help="submissions per Slurm task (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_class(root / "export")
        count = len(list((root / "export").iterdir()))
        batch = [sys.executable, "-m", "grader", "batch", str(root / "export"), "--sections", "1,2"]
        local_s = _timed([*batch, "--out", str(root / "local"), "--jobs", "2"])
        cluster = localslurm.start(root / "slurm", controller_port=46817, node_port=46818, install=True)
        try:
            slurm = [*batch, "--out", str(root / "on-slurm"), "--slurm", "--per-task", str(args.per_task)]
            slurm_s = _timed(slurm, cluster.environment())
        finally:
            localslurm.stop(cluster.folder)
    load = os.getloadavg()[0]
    print(f"batch_slurm: {count} submissions, §1+§2, {os.cpu_count()} cores, load {load:.1f} at the end")
    for way, seconds in (("local --jobs 2", local_s), (f"Slurm --per-task {args.per_task}", slurm_s)):
        print(f"batch_slurm: {way}: {seconds:.0f} s, {60 * count / seconds:.1f} submissions/min")


if __name__ == "__main__":
    main()
