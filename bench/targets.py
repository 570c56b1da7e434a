"""The speed targets of a whole-submission grade, each with the command that measures it; optionally for
an earlier revision too, back to back on the same machine, so that every "before" and "after" comes
from one command.

Figures (offline profile, as `python -m grader grade` runs them; the median of `--runs` runs):

- the reference export (dist/reference_submission), all sections: wall time (target 20 s);
- its §1 and §2 (`--sections 1,2`): wall time (target 5 s);
- the untouched student template (student_template/*.ipynb): wall time (target 10 s);
- a §1 whose top level never ends (`--sections 1`): wall time, which must be one load deadline plus
  the grader's own costs, however many tests the section has;
- the trusted process's peak memory while grading the reference (bench/breakdown.py measures it);
- `batch --jobs 2` over bench.batch_cpu's class of ten: submissions a minute (target 10), and
  whether grades.csv is the same before and after (its timing column aside).

Usage: ``python -m bench.targets [--before REV] [--runs N]``. With ``--before``, REV (a commit, or
``main``) is exported to a temporary folder and measured alternately with this tree; both read the
same submissions and the same offline assets. Needs `make handout`. The machine's load at the start
and end is printed: on a shared machine, compare only figures from one run.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from a2.assets.offline import default_cache_root
from bench.batch_cpu import write_class
from bench.breakdown import REFERENCE, cpu_seconds_of_children, measure
from grader.table import load_table

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template"
HANGING_A2S1 = "import torch\n\n\ndef forever():\n    while True:\n        pass\n\n\nquery121 = forever()\n"
TARGETS = {
    "reference, all sections (s)": 20.0,
    "reference, §1+§2 (s)": 5.0,
    "untouched template (s)": 10.0,
    "batch --jobs 2 (submissions/min)": 10.0,
}
TIMING_COLUMNS = ("grading_seconds",)


def _timed(tree: Path, command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (every process of the run) of `command` run by `tree`'s grader."""
    begun, cpu = time.monotonic(), cpu_seconds_of_children()
    subprocess.run(command, cwd=tree, env=_environment(tree), check=True, capture_output=True)
    return time.monotonic() - begun, cpu_seconds_of_children() - cpu


def _grade(tree: Path, submission: Path, out: Path, *options: str) -> tuple[float, float]:
    command = [sys.executable, "-m", "grader", "grade", str(submission), "--results", str(out)]
    return _timed(tree, [*command, "--profile", "offline", "--quiet", *options])


def _environment(tree: Path) -> dict[str, str]:
    """Run `tree`'s grader as the targets' commands run (no OMP_NUM_THREADS, which `make bench` sets), on
    this checkout's offline assets, so both trees grade the same data."""
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    return {**environment, "PYTHONPATH": str(tree), "A2_ASSETS_DIR": str(default_cache_root())}


def _inputs(folder: Path) -> dict[str, Path]:
    """The submissions every tree grades: the untouched template and the hanging §1."""
    template = folder / "template"
    template.mkdir()
    for notebook in TEMPLATE.glob("A2S*.ipynb"):
        (template / notebook.name).write_bytes(notebook.read_bytes())
    hanging = folder / "hanging"
    hanging.mkdir()
    (hanging / "A2S1.py").write_text(HANGING_A2S1)
    export = folder / "class"
    write_class(export)
    return {"template": template, "hanging": hanging, "class": export}


def _grades(out: Path) -> list[dict[str, str]]:
    with (out / "grades.csv").open() as handle:
        return [
            {key: value for key, value in row.items() if key not in TIMING_COLUMNS}
            for row in csv.DictReader(handle)
        ]


def _batch(tree: Path, export: Path, out: Path) -> tuple[float, float, list[dict[str, str]]]:
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), "--jobs", "2"]
    elapsed, cpu = _timed(tree, command)
    rows = _grades(out)
    return 60 * len(rows) / elapsed, cpu / len(rows), rows


def measure_once(tree: Path, inputs: dict[str, Path], scratch: Path, with_batch: bool) -> dict:
    """Every figure of `tree` once (the batch and the hanging §1 only when `with_batch`)."""
    results = scratch / "results.json"
    figures: dict = {}
    breakdown = measure(tree, REFERENCE, _environment(tree))
    figures["reference, all sections (s)"] = breakdown["wall"]
    figures["  reference CPU (s)"] = breakdown["cpu"]
    figures["trusted process peak (MB)"] = breakdown["peak_mb"]
    timings = {
        "reference, §1+§2": (REFERENCE, "--sections", "1,2"),
        "untouched template": (inputs["template"],),
    }
    if with_batch:
        timings["hanging §1 top level"] = (inputs["hanging"], "--sections", "1")
    for name, (submission, *options) in timings.items():
        figures[f"{name} (s)"], figures[f"  {name} CPU (s)"] = _grade(tree, submission, results, *options)
    if with_batch:
        out = scratch / f"batch-{time.monotonic_ns()}"
        rate, cpu, figures["grades"] = _batch(tree, inputs["class"], out)
        figures["batch --jobs 2 (submissions/min)"], figures["  CPU per submission (s)"] = rate, cpu
    return figures


def _export(revision: str, folder: Path) -> Path:
    """`revision` of this repository as a plain folder (its tracked files; it grades our submissions)."""
    tree = folder / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REV", help="also measure this revision, alternately")
    parser.add_argument("--runs", type=int, default=2, help="runs of each timing (default 2)")
    args = parser.parse_args(argv)
    print(f"targets: load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        os.chmod(scratch, 0o711)
        inputs = _inputs(scratch)
        trees = {"before": _export(args.before, scratch)} if args.before else {}
        trees["after"] = REPO
        runs: dict[str, list[dict]] = {label: [] for label in trees}
        for index in range(args.runs):
            for label, tree in trees.items():
                runs[label].append(measure_once(tree, inputs, scratch, with_batch=index == 0))
    _print(runs)
    print(f"targets: load average at the end {os.getloadavg()[0]:.1f}")
    print(f"targets: the load deadline is {load_table().sandbox.load_timeout:g} s")


def _print(runs: dict[str, list[dict]]) -> None:
    labels = list(runs)
    names = [name for name in runs[labels[-1]][0] if name != "grades"]
    print("targets: " + " " * 36 + "".join(f"{label:>10}" for label in labels) + "    target")
    for name in names:
        cells = ""
        for label in labels:
            values = [run[name] for run in runs[label] if name in run]
            cells += f"{statistics.median(values):>10.1f}"
        target = TARGETS.get(name)
        print(f"targets: {name:<36}{cells}" + (f"    {target:g}" if target else ""))
    if len(labels) == 2:
        same = runs[labels[0]][0]["grades"] == runs[labels[1]][0]["grades"]
        verdict = "yes" if same else "NO"
        print(f"targets: batch grades.csv (timing aside) the same before and after: {verdict}")


if __name__ == "__main__":
    main()
