"""The floor under a whole-submission grade on this machine: what no grader can avoid paying.

A grade starts one Python for the grader and one student process per section (forked from a warm
template since the template landed, but the template itself still imports torch once), and §3's
threshold run trains the offline profile's tiny RoBERTa for a fixed number of steps. So the floor is:

- a bare interpreter (`python -c pass`), `python -c "import torch"`, and the imports §3 needs
  (torch and transformers' RoBERTa classes), each a fresh process, median of three;
- one training step of the offline profile (its batch size, its model, AdamW, forward, backward,
  step), the first one and the median of the next ten, in this process on one thread as the replays
  run them, and on every core;
- those steps times the number the threshold run takes (epochs x batches of the offline data).

Usage: ``OMP_NUM_THREADS=1 python -m bench.floor`` (part of ``make bench``). Needs the offline assets
(``make handout`` builds them).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time

import torch

from a2.sections.s3.resources import load_resources
from grader.table import load_table

IMPORTS = {
    "python -c pass": "pass",
    'python -c "import torch"': "import torch",
    "§3's imports (torch, transformers' RoBERTa)": (
        "import torch\nfrom transformers import AutoTokenizer, AutoModelForSequenceClassification"
    ),
}
REPEATS = 3
STEADY_STEPS = 10


def _start_seconds(code: str) -> float:
    """Median wall time of a fresh interpreter running `code`."""
    walls = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def _step_seconds(threads: int) -> tuple[float, float, int]:
    """(first step, median steady step, steps per threshold run) of the offline profile on `threads`."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    torch.set_num_threads(threads)
    profile = load_table().profile("offline")
    resources = load_resources(profile)
    tokenizer = resources.tokenizer()
    examples = resources.splits["train"][: profile.batch_size]
    labels = torch.tensor([example["label"] for example in examples])
    batch = tokenizer(
        [example["text"] for example in examples], padding=True, truncation=True, return_tensors="pt"
    )
    torch.manual_seed(profile.seed)
    model = AutoModelForSequenceClassification.from_pretrained(resources.model_dir, num_labels=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=profile.learning_rate, eps=profile.adam_eps)
    model.train()
    walls = []
    for _ in range(1 + STEADY_STEPS):
        started = time.perf_counter()
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        walls.append(time.perf_counter() - started)
    steps = profile.epochs * math.ceil(len(resources.splits["train"]) / profile.batch_size)
    return walls[0], statistics.median(walls[1:]), steps


def main() -> None:
    print(f"floor: load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, code in IMPORTS.items():
        print(f"floor: {name:<48}{_start_seconds(code):>8.2f} s")
    for threads in dict.fromkeys((1, os.cpu_count() or 1)):
        first, steady, steps = _step_seconds(threads)
        print(f"floor: one training step, {threads} thread(s): first {first:.3f} s, then {steady:.3f} s")
        print(f"floor:   the threshold run's {steps} steps at that rate: {steps * steady:.1f} s")
    print(f"floor: load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
