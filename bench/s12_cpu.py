"""§1 + §2 grading of one submission on the CPU, end to end, as Gradescope would run it.

Grades the reference solutions (exported the way Colab exports them) with ``python -m grader grade
--sections 1,2`` a few times and reports the wall time of the whole command (interpreter start,
intake, both sandboxed children, every check, the GPT integration) and the grader's own
``execution_time``. The target is under 15 s on the 2-core CI machine.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from handout.colab_export import export_reference

REPO = Path(__file__).resolve().parents[1]
RUNS = 3
TARGET_S = 15.0


def _write_reference_submission(folder: Path) -> None:
    for stem in ("A2S1", "A2S2"):
        (folder / f"{stem}.py").write_text(export_reference(REPO, stem))


def main() -> None:
    walls, inside = [], []
    with tempfile.TemporaryDirectory() as folder:
        submission = Path(folder) / "submission"
        submission.mkdir()
        _write_reference_submission(submission)
        results = Path(folder) / "results.json"
        command = [sys.executable, "-m", "grader", "grade", str(submission), "--results", str(results)]
        command += ["--sections", "1,2", "--quiet"]
        for _ in tqdm(range(RUNS), desc="grading §1+§2", unit="run"):
            started = time.perf_counter()
            subprocess.run(command, cwd=REPO, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
            graded = json.loads(results.read_text())
            inside.append(graded["execution_time"])
    score = sum(test["score"] for test in graded["tests"])
    print(f"s12_cpu: score {score:g} over {len(graded['tests'])} tests (reference solutions)")
    print(
        f"s12_cpu: wall time of `grade --sections 1,2`: median {statistics.median(walls):.1f} s, "
        f"max {max(walls):.1f} s over {RUNS} runs (target < {TARGET_S:g} s)"
    )
    print(f"s12_cpu: grader execution_time: median {statistics.median(inside):.1f} s")


if __name__ == "__main__":
    main()
