"""3.3.2 on the trusted side: what one epoch of ``train_one_epoch`` must do to the weights.

The student's ``train_one_epoch`` runs in the sandbox on the probe model, with batches, learning
rate and seed chosen here, and sends back the weights it left (``WATCHED`` of them). This process
runs the same epoch itself with the notebook's steps, and with each known mistake, from the same
starting weights, batches and seed, and judges the student's weights by which of these they match.
Nothing the student's process observed about itself decides the test.

3.5.1 uses the same replay on the first ``PREFIX_STEPS`` batches of its threshold run, to verify that
the weights it measures came from the student's functions (``prefix_verified``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from grader.sections.s3.batches import (
    PREFIX_STEPS,
    encode_batch,
    load_tokenizer,
    probe_loader,
    probe_model,
    watched,
)

#: Relative distance below which two updates are the same (float noise, GPU reductions included).
SAME_UPDATE = 0.05


@contextmanager
def one_thread() -> Iterator[None]:
    """Replay on one CPU thread, as the student's process trains (the drivers).

    With another thread count the float reductions differ, and AdamW's first step, which moves each
    weight by about the learning rate in the direction of its gradient's sign, turns that noise into
    whole-step differences wherever a gradient is near zero: the reference solution then matched no
    variant on a multi-core machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Variant:
    """One way of running the epoch: the notebook's, or one known mistake, with what to tell the student."""

    name: str
    train_mode: bool = True
    zero_grad: bool = True
    message: str = ""


VARIANTS = (
    Variant("correct"),
    Variant(
        "no_zero_grad",
        zero_grad=False,
        message="Your weights after one epoch are those of an epoch whose gradients are never cleared: "
        "each step used the sum of the gradients of every batch so far. Call optimizer.zero_grad() "
        "before each backward pass.",
    ),
    Variant(
        "no_train_mode",
        train_mode=False,
        message="Your weights after one epoch are those of an epoch run in evaluation mode (the grader "
        "passed the model in evaluation mode): call model.train() at the start, so that dropout is on "
        "during training.",
    ),
)


@dataclass(frozen=True)
class Epoch:
    """The probe's epoch: examples, batch size, learning rate and seed, all chosen by the check."""

    model_dir: str
    examples: list[dict]
    batch_size: int
    learning_rate: float
    seed: int
    device: str


def run_epoch(epoch: Epoch, variant: Variant) -> dict[str, torch.Tensor]:
    """The watched weights after one epoch run as ``variant`` says, from the probe model in eval mode."""
    with one_thread():
        return _epoch_weights(epoch, variant)


def _epoch_weights(epoch: Epoch, variant: Variant) -> dict[str, torch.Tensor]:
    device = epoch.device
    model = probe_model(epoch.model_dir).to(device).eval()
    loader = probe_loader(epoch.model_dir, epoch.examples, epoch.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=epoch.learning_rate, eps=1e-8)
    torch.manual_seed(epoch.seed)
    if variant.train_mode:
        model.train()
    for batch in loader:
        if variant.zero_grad:
            optimizer.zero_grad()
        loss = model(**batch["text_encoding"].to(device), labels=batch["label_encoding"].to(device)).loss
        loss.backward()
        optimizer.step()
    return {name: p.detach().cpu() for name, p in model.named_parameters() if watched(name)}


def initial_weights(model_dir: str) -> dict[str, torch.Tensor]:
    return {name: p.detach() for name, p in probe_model(model_dir).named_parameters() if watched(name)}


def update_distance(got: Any, want: dict[str, torch.Tensor], start: dict[str, torch.Tensor]) -> float:
    """Largest relative difference between the student's update and ``want``'s (inf if unusable)."""
    if not isinstance(got, dict) or set(got) != set(want):
        return float("inf")
    worst = 0.0
    for name, expected in want.items():
        tensor = got[name]
        if (
            not isinstance(tensor, torch.Tensor)
            or tensor.shape != expected.shape
            or not tensor.is_floating_point()
        ):
            return float("inf")
        if not bool(torch.isfinite(tensor).all()):
            return float("inf")
        step = (expected.double() - start[name].double()).norm()
        gap = (tensor.double() - expected.double()).norm()
        worst = max(worst, float(gap / step) if step > 0 else float(gap > 0) * float("inf"))
    return worst


def matching_variant(got: Any, epoch: Epoch) -> Variant | None:
    """The first variant whose weights the student's match, or None."""
    start = initial_weights(epoch.model_dir)
    for variant in VARIANTS:
        want = run_epoch(epoch, variant)
        if update_distance(got, want, start) <= SAME_UPDATE:
            return variant
    return None


def unchanged(got: Any, model_dir: str) -> bool:
    """Whether the student's weights are the starting ones (no step changed anything)."""
    start = initial_weights(model_dir)
    return (
        isinstance(got, dict)
        and set(got) == set(start)
        and all(
            isinstance(got[name], torch.Tensor)
            and got[name].shape == tensor.shape
            and torch.equal(got[name], tensor)
            for name, tensor in start.items()
        )
    )


@dataclass(frozen=True)
class ThresholdRun:
    """The settings of 3.5.1's run, as its driver receives them."""

    model_dir: str
    examples: list[dict]
    batch_size: int
    learning_rate: float
    adam_eps: float
    seed: int
    device: str


def threshold_prefix(run: ThresholdRun, variant: Variant | None) -> dict[str, torch.Tensor]:
    """The watched weights after the threshold run's first PREFIX_STEPS batches, replayed here as
    ``variant`` says (None: before any step), with the seeds and loader the driver uses."""
    with one_thread():
        return _prefix_weights(run, variant)


def _prefix_weights(run: ThresholdRun, variant: Variant | None) -> dict[str, torch.Tensor]:
    import random

    import numpy as np
    from torch.utils.data import DataLoader
    from transformers import AutoModelForSequenceClassification

    random.seed(run.seed)
    np.random.seed(run.seed)
    torch.manual_seed(run.seed)
    model = AutoModelForSequenceClassification.from_pretrained(run.model_dir, num_labels=2).to(run.device)
    dataset: Any = run.examples  # a list serves as a map-style dataset
    loader: DataLoader = DataLoader(
        dataset,
        batch_size=run.batch_size,
        shuffle=True,
        collate_fn=partial(encode_batch, load_tokenizer(run.model_dir)),
        generator=torch.Generator().manual_seed(run.seed),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.learning_rate, eps=run.adam_eps)
    if variant is not None and variant.train_mode:
        model.train()
    for index, batch in enumerate(loader):
        if variant is None or index == PREFIX_STEPS:
            break
        if variant.zero_grad:
            optimizer.zero_grad()
        text, labels = batch["text_encoding"].to(run.device), batch["label_encoding"].to(run.device)
        model(**text, labels=labels).loss.backward()
        optimizer.step()
    return {name: p.detach().cpu() for name, p in model.named_parameters() if watched(name)}


def prefix_verified(prefix: Any, run: ThresholdRun) -> bool:
    """Whether the run's weights after its first steps are those the notebook's steps (or a known
    mistake the unit tests already charge for) give on the same batches."""
    start = threshold_prefix(run, None)
    return any(
        update_distance(prefix, threshold_prefix(run, variant), start) <= SAME_UPDATE for variant in VARIANTS
    )
