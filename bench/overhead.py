"""The grader's own cost per section: starting the sandboxed child, its imports, loading definitions.

Measured on a minimal submission so the figures are ours, not the student's: the median over a few
runs of (a) starting a child and loading one statement, and (b) one round trip for a small tensor.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from grader.session import GradingSession
from grader.table import load_table

RUNS = 5


def main() -> None:
    table = load_table()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "A2S2.py").write_text("import torch\ndef f(x):\n    return x * 2\n")
        starts, calls = [], []
        for _ in range(RUNS):
            session = GradingSession(Path(folder), table, table.profile("offline"), protect=())
            session.start()
            section = session.section(2)
            begun = time.perf_counter()
            section.call("f", (torch.ones(2),))
            starts.append(time.perf_counter() - begun)
            begun = time.perf_counter()
            section.call("f", (torch.ones(64, 64),))
            calls.append(time.perf_counter() - begun)
            session.close()
    print(
        f"overhead: child start + torch import + load + first call: median {statistics.median(starts):.2f} s"
    )
    print(f"overhead: one call round trip (64x64 float32): median {statistics.median(calls) * 1000:.1f} ms")
