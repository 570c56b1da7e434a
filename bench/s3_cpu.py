"""§3 grading of one submission on the offline profile (CPU), end to end, as the tests run it.

Grades the reference solution of A2S3 (exported the way Colab exports it) with ``python -m grader
grade --sections 3`` and reports the wall time of the whole command (interpreter start, intake, the
sandboxed child, every unit check, the threshold run and the grader's own accuracy count), with the
accuracy it measured. The target is under 3 minutes on the 2-core CI machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from handout.colab_export import export_reference

REPO = Path(__file__).resolve().parents[1]
RUNS = 2
TARGET_S = 180.0


def main() -> None:
    walls = []
    with tempfile.TemporaryDirectory() as folder:
        submission = Path(folder) / "submission"
        submission.mkdir()
        (submission / "A2S3.py").write_text(export_reference(REPO, "A2S3"))
        results = Path(folder) / "results.json"
        command = [sys.executable, "-m", "grader", "grade", str(submission), "--results", str(results)]
        command += ["--sections", "3", "--quiet"]
        for _ in tqdm(range(RUNS), desc="grading §3 (offline)", unit="run"):
            started = time.perf_counter()
            subprocess.run(command, cwd=REPO, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
        graded = json.loads(results.read_text())
    score = sum(test["score"] for test in graded["tests"])
    accuracy = graded["leaderboard"][0]["value"] if graded.get("leaderboard") else float("nan")
    print(f"s3_cpu: score {score:g} over {len(graded['tests'])} tests (reference solution)")
    print(f"s3_cpu: held-out accuracy of the threshold run: {accuracy:.4f}")
    print(
        f"s3_cpu: wall time of `grade --sections 3`: min {min(walls):.1f} s, max {max(walls):.1f} s over "
        f"{RUNS} runs (target < {TARGET_S:g} s)"
    )


if __name__ == "__main__":
    main()
