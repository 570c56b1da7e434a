"""The trusted process against the hostile corpus: its peak memory, and what a spinning §2 costs.

Each case is graded in a fresh `python` that runs grader.grading_run in-process (so its peak resident set,
`ru_maxrss` of RUSAGE_SELF, is the trusted process's alone, not the sandboxed child's). The cases:
tests/submissions/hostile/containment/ with its placeholders left empty, a 100 MB `.py`, a 60 MB
`.ipynb`, an expression nested 100,000 deep, a §2 whose helper returns 1 GiB, and a §2 whose every
function spins forever (the time that one costs is the second figure). Run as root for the real
privilege drop: `OMP_NUM_THREADS=1 python -m bench.containment`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.table import load_table

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "submissions" / "hostile" / "containment"
MEASURE = """
import json, resource, sys, time
from pathlib import Path
from grader.grading_run import RunOptions, grade_submission
started = time.monotonic()
sections = {int(number) for number in sys.argv[3].split(",")}
results = grade_submission(RunOptions(Path(sys.argv[1]), Path(sys.argv[2]), sections=sections))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.monotonic() - started, "score": results["score"]}))
"""


def spinning_s2() -> str:
    names = load_table().sections[2].answers
    body = "\n\n".join(f"def {name}(*args, **kwargs):\n    while True:\n        pass\n" for name in names)
    return f"import torch\n\n{body}"


def cases(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (submission folder, sections)."""
    made: dict[str, tuple[Path, str]] = {}

    def make(name: str, files: dict[str, str | bytes], sections: str = "1") -> None:
        target = folder / name
        target.mkdir()
        for filename, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with (target / filename).open(mode) as handle:
                handle.write(content)
        made[name] = (target, sections)

    for source in sorted(HOSTILE.glob("*.py")):
        make(source.stem, {"A2S1.py": source.read_text()})
    shutil.copytree(HOSTILE / "symlinks", folder / "symlinks", symlinks=True)
    made["symlinks"] = (folder / "symlinks", "1,2")
    make("py_100mb", {"A2S1.py": b"# padding\n" * (10 << 20)})
    notebook = {"cells": [{"cell_type": "code", "source": "x = 1\n" * (10 << 20), "metadata": {}}]}
    make("ipynb_60mb", {"A2S1.ipynb": json.dumps(notebook)})
    make("nested_100k", {"A2S1.py": "query121 = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n"})
    huge = "def pairwise_similarities(Q, K):\n    return torch.zeros(1 << 30, dtype=torch.uint8)\n"
    make("answer_1gib", {"A2S2.py": f"import torch\n\n{huge}"}, "2")
    make("spins_every_s2_function", {"A2S2.py": spinning_s2()}, "2")
    return made


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        figures = {}
        for name, (submission, sections) in cases(folder).items():
            results = folder / f"{name}.json"
            command = [sys.executable, "-c", MEASURE, str(submission), str(results), sections]
            finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
            figures[name] = json.loads(finished.stdout.strip().splitlines()[-1])
            print(
                f"containment: {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures[name].items()),
                flush=True,
            )
    worst = max(figures, key=lambda name: figures[name]["peak_mb"])
    print(f"containment: trusted process peak {figures[worst]['peak_mb']:.0f} MB ({worst})")
    spin = figures["spins_every_s2_function"]["seconds"]
    print(f"containment: a §2 whose every function spins takes {spin:.0f} s to grade")


if __name__ == "__main__":
    main()
