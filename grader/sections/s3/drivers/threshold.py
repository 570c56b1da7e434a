"""Runs in the student's process: finetunes the profile's model with the student's own pipeline.

The student's ``SST2Dataset``, ``collate_fn`` and ``train_one_epoch`` are driven with the course's
settings (seed, batch size, AdamW with the given learning rate and eps, a fixed number of epochs).
Only the training split arrives here; the trained weights go back as tensors, and the grader
measures their accuracy on held-out data in its own process. The weights after the first
``PREFIX_STEPS`` batches go back too: the grader checks those steps against its own gradient, to
verify that the run came from training on its batches (reference_steps.first_step_problem).
"""

from __future__ import annotations

import random
import time
from types import ModuleType

import numpy as np
import torch
from torch.utils.data import DataLoader

from grader.sections.s3.batches import PREFIX_STEPS, load_tokenizer, threshold_model, watched


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
    if device == "cpu":
        # On a shared CPU, a second thread mostly spins waiting for the first (measured: one epoch of
        # the offline profile took 3 s on one thread, 60 s on two threads of a busy 2-core machine).
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
    watched_loader = _PrefixSnapshot(loader, model)
    started = time.monotonic()
    for epoch in range(epochs):
        student.train_one_epoch(model, watched_loader, optimizer, epoch)
    seconds = time.monotonic() - started
    weights = {name: tensor.detach().to("cpu").clone() for name, tensor in model.state_dict().items()}
    return {"weights": weights, "seconds": seconds, "prefix": watched_loader.snapshot}


class _PrefixSnapshot:
    """The dataloader as the student's code sees it; notes the watched weights once the first
    ``PREFIX_STEPS`` batches of the first epoch have been handed out (or the epoch ended)."""

    def __init__(self, loader: DataLoader, model: torch.nn.Module) -> None:
        self._loader, self._model = loader, model
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
            yield batch
        self._take()
