"""Runs in the student's process: finetunes the profile's model with the student's own pipeline.

The student's ``SST2Dataset``, ``collate_fn`` and ``train_one_epoch`` are driven with the course's
settings (seed, batch size, AdamW with the given learning rate and eps, a fixed number of epochs).
Only the training split arrives here; the trained weights go back as tensors, and the grader
measures their accuracy on held-out data in its own process. The weights after the first
``PREFIX_STEPS`` batches go back too: the grader checks those steps against its own gradient, to
verify that the run came from training on its batches (reference_steps.first_step_problem).

On the CPU those first steps run on one thread, as the grader's own gradient for them is computed
(another thread count changes the float reductions). The rest of the run may use every core this
process may run on and its CPU quota allows, within OMP_NUM_THREADS when it is set, but more threads
are faster only where the other cores are idle: measured on the shared 2-core machine, at the
children's low priority, two threads took twice as long as one as soon as other work ran. So the
next TRIAL_STEPS steps run on all the threads allowed and as many on one, and the faster keeps the
rest of the run (with a fixed choice the run is bitwise reproducible). Waiting OpenMP threads sleep
rather than spin (OMP_WAIT_POLICY=PASSIVE, grader/sandbox/process.py): spinning ones made two
threads six times slower than one.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch.utils.data import DataLoader

from a2.sections.s3.batches import PREFIX_STEPS, load_tokenizer, threshold_model, watched

#: Steps timed on each thread count after the verified prefix, before the faster is kept.
TRIAL_STEPS = 6


def train_for_threshold(
    student: ModuleType,
    model_dir: str,
    examples: list[dict],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    adam_eps: float,
    seed: int,
    device: str,
) -> dict:
    """Finetune with the student's pipeline; return the trained weights and the training time."""
    threads = 1
    if device == "cpu":
        threads = threads_allowed()
        torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = load_tokenizer(model_dir)
    dataset = student.SST2Dataset(tokenizer, examples)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        collate_fn=student.SST2Dataset.collate_fn,
        generator=torch.Generator().manual_seed(seed),
    )
    model = threshold_model(model_dir, seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, eps=adam_eps)
    watched_loader = _PrefixSnapshot(loader, model, _ThreadTrial(threads))
    started = time.monotonic()
    for epoch in range(epochs):
        student.train_one_epoch(model, watched_loader, optimizer, epoch)
    seconds = time.monotonic() - started
    weights = {name: tensor.detach().to("cpu").clone() for name, tensor in model.state_dict().items()}
    return {"weights": weights, "seconds": seconds, "prefix": watched_loader.snapshot}


def threads_allowed() -> int:
    """The threads training may use: the cores this process may run on, bounded by its cgroup's CPU
    quota (a container's share) and by OMP_NUM_THREADS when set (the probes that ran before in this
    process set torch's own count to one)."""
    cores = len(os.sched_getaffinity(0))
    quota = _cpu_quota()
    if quota is not None:
        cores = max(1, min(cores, int(quota)))
    configured = os.environ.get("OMP_NUM_THREADS", "")
    return min(cores, int(configured)) if configured.isdigit() and int(configured) > 0 else cores


def _cpu_quota() -> float | None:
    """CPUs' worth of time the cgroup allows per period (cgroup v2 or v1), or None if unlimited."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        try:
            if controllers == "":
                quota, period = Path(f"/sys/fs/cgroup{path}/cpu.max").read_text().split()
            elif "cpu" in controllers.split(","):
                folder = Path(f"/sys/fs/cgroup/{controllers}{path}")
                quota, period = (
                    (folder / name).read_text() for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us")
                )
            else:
                continue
        except (OSError, ValueError):
            continue
        if quota.strip() not in ("max", "-1"):
            return int(quota) / int(period)
    return None


class _ThreadTrial:
    """After the prefix: TRIAL_STEPS steps on `threads`, as many on one, then the faster for good."""

    def __init__(self, threads: int) -> None:
        self.plan = [threads] * TRIAL_STEPS + [1] * TRIAL_STEPS if threads > 1 else []
        self.steps: dict[int, list[float]] = {threads: [], 1: []} if threads > 1 else {}
        self.current, self.last = 1, 0.0

    def next_step(self) -> None:
        """A batch is handed out: the step before it has ended."""
        now = time.monotonic()
        if self.last and self.current in self.steps:
            self.steps[self.current].append(now - self.last)
        self.last = now
        if self.plan:
            self.current = self.plan.pop(0)
            torch.set_num_threads(self.current)
        elif self.steps:
            self.current = min(self.steps, key=lambda count: statistics.median(self.steps[count]))
            torch.set_num_threads(self.current)
            self.steps = {}


class _PrefixSnapshot:
    """The dataloader as the student's code sees it; notes the watched weights once the first
    ``PREFIX_STEPS`` batches of the first epoch have been handed out (or the epoch ended), then lets
    ``trial`` choose the threads of each later step."""

    def __init__(self, loader: DataLoader, model: torch.nn.Module, trial: _ThreadTrial) -> None:
        self._loader, self._model, self._trial = loader, model, trial
        self.snapshot: dict | None = None

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)

    def _take(self) -> None:
        if self.snapshot is None:
            self.snapshot = {
                n: p.detach().cpu().clone() for n, p in self._model.named_parameters() if watched(n)
            }

    def __iter__(self):
        for index, batch in enumerate(self._loader):
            if index == PREFIX_STEPS:
                self._take()
            if self.snapshot is not None:
                self._trial.next_step()
            yield batch
        self._take()
