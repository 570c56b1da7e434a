"""Where each second of a whole-submission grade goes: the grader's start, intake, every sandboxed
child's start and load, each test (split into time in the student's process and the trusted side's
own work), §3's training, and the end; with the trusted process's peak memory.

Grades the reference export (`dist/reference_submission`, offline profile) the way
`python -m grader grade` does, in a fresh interpreter that times the run from the inside: it wraps
`GradingSession.spawn` and `StudentProcess.request` and adds a pytest plugin that notes when each
test starts and ends. The wrappers change no behaviour; they only read the clock. Needs
`make handout`. Run as root for the real sandbox: `OMP_NUM_THREADS=1 python -m bench.breakdown`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "dist" / "reference_submission"
THRESHOLD_DRIVER = "threshold:train_for_threshold"


def _seconds_since_process_start() -> float:
    """How long ago this process started (interpreter start included), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    return float(Path("/proc/uptime").read_text().split()[0]) - started


class Timer:
    """Notes (what, seconds) while a grading run goes on; a pytest plugin for the per-test times."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.test: str | None = None
        self.test_started = 0.0

    def note(self, kind: str, seconds: float, **detail: Any) -> None:
        self.events.append({"kind": kind, "seconds": seconds, "test": self.test, **detail})

    def pytest_collection_finish(self) -> None:
        self.note("collection", time.monotonic() - self.collection_started)

    def pytest_collection(self) -> None:
        self.collection_started = time.monotonic()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.test, self.test_started = nodeid.rsplit("::", 1)[-1], time.monotonic()

    def pytest_runtest_logfinish(self) -> None:
        self.note("test", time.monotonic() - self.test_started)
        self.test = None


def _instrument(timer: Timer) -> None:
    """Wrap the spawn and each request so that their durations are noted, and add the plugin."""
    import pytest

    from grader.sandbox import process, wire
    from grader.session import GradingSession

    spawn, request, run_pytest = GradingSession.spawn, process.StudentProcess.request, pytest.main

    def timed_spawn(self, section: int):
        begun = time.monotonic()
        child = spawn(self, section)
        timer.note("start", time.monotonic() - begun, section=section)
        child.bench_section = section
        return child

    def timed_request(self, header, tensors, timeout, max_reply_bytes=None):
        begun = time.monotonic()
        try:
            reply = request(self, header, tensors, timeout, max_reply_bytes)
        finally:
            op = header.get("op")
            timer.note(op, time.monotonic() - begun, section=getattr(self, "bench_section", 0))
        if op == "run" and header.get("target", "").endswith(THRESHOLD_DRIVER):
            value = wire.decode(reply[0].get("value"), reply[1]) if reply[0].get("ok") else {}
            timer.note("training", float(value.get("seconds", -1)), section=3)
        return reply

    GradingSession.spawn = timed_spawn  # type: ignore[method-assign]
    process.StudentProcess.request = timed_request  # type: ignore[method-assign]
    pytest.main = lambda args, plugins: run_pytest(args, plugins=[*plugins, timer])


def inside(submission: Path) -> None:
    """In the fresh interpreter: grade `submission` with the clock running; print the figures as JSON."""
    import resource

    from grader.grading_run import RunOptions, grade_submission

    imported = _seconds_since_process_start()
    timer = Timer()
    _instrument(timer)
    with tempfile.TemporaryDirectory() as folder:
        begun = time.monotonic()
        results = grade_submission(RunOptions(submission, Path(folder) / "results.json"))
        graded = time.monotonic() - begun
    figures = {
        "startup": imported,
        "grading": graded,
        "score": results["score"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "events": timer.events,
    }
    print(json.dumps(figures))


def measure(repo: Path = REPO, submission: Path = REFERENCE, environment: dict | None = None) -> dict:
    """One whole grade of `submission` by the grader in `repo` (on PYTHONPATH in `environment`), timed;
    the wall time included. This file runs as a script, so an older tree without it can be measured."""
    command = [sys.executable, __file__, "--inside", str(submission)]
    begun, cpu = time.monotonic(), cpu_seconds_of_children()
    finished = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, check=True)
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    figures["wall"] = time.monotonic() - begun
    figures["cpu"] = cpu_seconds_of_children() - cpu
    return figures


def cpu_seconds_of_children() -> float:
    """CPU seconds (user and system) of every finished process this one waited for, and of theirs: a
    grading run's grader, template, launchers and sandboxed children all count. Less sensitive than
    wall time to what else the machine runs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summarise(figures: dict) -> dict[str, float]:
    """The run's seconds by where they went (and the peak memory in MB)."""
    events = figures["events"]
    by_kind: dict[str, float] = defaultdict(float)
    in_tests: dict[str, float] = defaultdict(float)
    for event in events:
        by_kind[event["kind"]] += event["seconds"]
        if event["test"] and event["kind"] not in ("test", "training"):
            in_tests[event["test"]] += event["seconds"]
    tests = [e for e in events if e["kind"] == "test"]
    trusted = sum(max(0.0, e["seconds"] - in_tests[e["test"]]) for e in tests)
    line = {
        "wall": figures["wall"],
        "CPU, every process of the run": figures["cpu"],
        "grader start (interpreter, imports)": figures["startup"],
        "pytest collection": by_kind["collection"],
        "child starts (until the confinement report)": by_kind["start"],
        "loads (child imports + kept statements)": by_kind["load"],
        "answers read and calls (get, call)": by_kind["get"] + by_kind["call"],
        "drivers run in the child (run)": by_kind["run"],
        "  of which §3's threshold training": by_kind["training"],
        "trusted side's own work in tests": trusted,
        "rest (intake, staging, stops, results)": figures["grading"] - sum(e["seconds"] for e in tests),
        "peak MB (trusted process)": figures["peak_mb"],
    }
    for section in (1, 2, 3):
        line[f"§{section} child starts + loads"] = sum(
            e["seconds"] for e in events if e["kind"] in ("start", "load") and e.get("section") == section
        )
    return line


def slowest_tests(figures: dict, count: int = 6) -> list[tuple[str, float]]:
    tests = [(e["test"], e["seconds"]) for e in figures["events"] if e["kind"] == "test"]
    return sorted(tests, key=lambda item: -item[1])[:count]


def print_table(columns: dict[str, list[dict[str, float]]]) -> None:
    """One row per figure, one column per label: the median over that label's runs."""
    import statistics

    names = list(next(iter(columns.values()))[0])
    print("breakdown: " + " " * 50 + "".join(f"{label:>14}" for label in columns))
    for name in names:
        cells = "".join(f"{statistics.median(run[name] for run in runs):>14.1f}" for runs in columns.values())
        print(f"breakdown: {name:<50}{cells}")


def main() -> None:
    # As `python -m grader grade` runs: without the OMP_NUM_THREADS that `make bench` sets.
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    environment["PYTHONPATH"] = str(REPO)
    runs = [measure(REPO, REFERENCE, environment) for _ in range(2)]
    print_table({"this tree": [summarise(run) for run in runs]})
    print("breakdown: slowest tests: " + ", ".join(f"{t} {s:.1f} s" for t, s in slowest_tests(runs[-1])))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        inside(Path(sys.argv[2]))
    else:
        main()
