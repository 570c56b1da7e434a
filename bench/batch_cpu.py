"""Batch-regrade a class of ten submissions (all three sections, offline profile) with --jobs 2.

The class: five reference exports, two untouched templates, a §2 and a §3 bug, and a hostile A2S1
whose answer calls os._exit. Needs `make handout` (dist/reference_submission, student_template/).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "dist" / "reference_submission"
TEMPLATE = REPO / "student_template"
CORPUS = REPO / "tests" / "submissions"
HOSTILE_A2S1 = "import os\nimport torch\n\nquery121 = torch.ones(3)\nquery122 = os._exit(0)\n"


def write_class(export: Path) -> None:
    replacements = {
        5: {"A2S1.ipynb": TEMPLATE / "A2S1.ipynb", "A2S2.ipynb": TEMPLATE / "A2S2.ipynb"},
        6: {"A2S3.ipynb": TEMPLATE / "A2S3.ipynb"},
        7: {"A2S2.py": CORPUS / "a2s2" / "bug_mask_after_softmax.py"},
        8: {"A2S3.py": CORPUS / "a2s3" / "bug_no_zero_grad.py"},
        9: {"A2S1.py": None},
    }
    for index in range(10):
        folder = export / f"submission_{300 + index}"
        shutil.copytree(REFERENCE, folder)
        for name, source in replacements.get(index, {}).items():
            (folder / f"{Path(name).stem}.py").unlink()
            if source is None:
                (folder / name).write_text(HOSTILE_A2S1)
            else:
                shutil.copy(source, folder / name)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        export, out = Path(scratch) / "export", Path(scratch) / "out"
        write_class(export)
        started = time.perf_counter()
        command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), "--jobs", "2"]
        subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        with (out / "grades.csv").open() as handle:
            rows = list(csv.DictReader(handle))
    statuses = Counter(row["status"] for row in rows)
    totals = sorted(float(row["total"]) for row in rows)
    print(f"batch_cpu: {len(rows)} submissions, all sections, --jobs 2: {elapsed:.1f} s wall")
    print(f"batch_cpu: statuses {dict(statuses)}; totals {totals}")
