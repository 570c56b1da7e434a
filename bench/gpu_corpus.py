"""§2.1 on CUDA: the reference and every A2S2 corpus file graded on the `full` profile, timed.

On `full` with a GPU, the §2.1 checks also compare the student's attention on CUDA tensors; a
device-unsafe helper (a CPU mask against CUDA scores) fails there and nowhere else. Each submission
must fail exactly the tests its expected.toml names. Prints one line per submission and the mean
grading time; exits 1 on any mismatch. Usage: ``python -m bench.gpu_corpus`` (on a GPU machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from handout.colab_export import export_reference

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "submissions" / "a2s2"


def _submissions() -> dict[str, tuple[str, frozenset[str]]]:
    expected = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
    cases = {"reference": (export_reference(REPO, "A2S2"), frozenset())}
    for name, spec in expected.items():
        cases[name] = ((CORPUS / f"{name}.py").read_text(encoding="utf-8"), frozenset(spec["failed"]))
    return cases


def main() -> int:
    mismatches, seconds = 0, []
    with tempfile.TemporaryDirectory() as scratch:
        for name, (text, expected) in _submissions().items():
            folder = Path(scratch) / name
            folder.mkdir()
            (folder / "A2S2.py").write_text(text, encoding="utf-8")
            results = Path(scratch) / f"{name}.json"
            command = [sys.executable, "-m", "grader", "grade", str(folder), "--results", str(results)]
            command += ["--profile", "full", "--sections", "2", "--quiet"]
            started = time.perf_counter()
            subprocess.run(command, cwd=REPO, check=True, capture_output=True)
            seconds.append(time.perf_counter() - started)
            data = json.loads(results.read_text(encoding="utf-8"))
            failed = {test["number"] for test in data["tests"] if test["status"] == "failed"}
            verdict = "as expected" if failed == expected else f"MISMATCH: expected {sorted(expected)}"
            mismatches += failed != expected
            print(f"gpu_corpus: {name}: failed {sorted(failed)} {verdict} ({seconds[-1]:.1f} s)", flush=True)
    mean = sum(seconds) / len(seconds)
    print(f"gpu_corpus: {len(seconds)} submissions, mean {mean:.1f} s each, {mismatches} mismatch(es)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
