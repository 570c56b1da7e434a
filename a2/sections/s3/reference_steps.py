"""3.3.2 and 3.5.1 on the trusted side: did each training step do what a training step does?

3.3.2 runs the student's ``train_one_epoch`` in the sandbox on the probe model, with batches, plain SGD
and a learning rate chosen here, and gets back the head's weights before every batch's step and after
the epoch (batches.StepSnapshots). This process then replays the epoch step by step: at each step it
computes, itself, the gradient of the model's loss on that batch at the weights the student's step
started from, in training mode, with the very dropout masks that forward pass drew
(batches.SeededDropout), and asks whether the student's step moved the weights along it.

An SGD step is the learning rate times the gradient, so a right step is parallel to the gradient;
the scale is not judged. That accepts every honest variation: a learning-rate scheduler, warm-up
(a step of size zero), gradient clipping by norm, reseeding the generators (the masks do not depend on
them), a loss computed from the logits with the same cross-entropy, autocast (a gradient close to the
exact one). The scale found from the head is applied to every parameter, so the replay follows the
student's own trajectory. A step that is not parallel fails, and the replay says what it matches
instead, when it matches something: the gradient in evaluation mode (model.train() missing), or the
sum of the gradients of every batch so far (the gradients never cleared). Nothing the student's
process reports about itself decides the verdict; its record of forward passes and steps only words
a failure (hidden_feedback.training_problems).

3.5.1 trains with the course's AdamW, whose first step is, for every weight, the learning rate times
the sign of the gradient (clipping and the learning rate scale it, nothing else). The grader computes
the first batch's gradient itself and checks that the run's weights after the first step moved
against it (``first_step_problem``): the finetuned model came from training on the run's batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from a2.sections.s3.batches import (
    encode_batch,
    load_tokenizer,
    probe_loader,
    probe_model,
    stepped,
    threshold_model,
    watched,
)

#: Largest distance, relative to the step, between the student's step and the nearest multiple of the
#: gradient (float noise, autocast, GPU reductions included).
SAME_DIRECTION = 0.05
#: For 3.5.1's first step: the share of clearly non-zero gradient entries whose weight must have
#: moved against the gradient's sign, and what counts as clearly non-zero (relative to the largest).
SIGN_AGREEMENT = 0.95
CLEARLY_NONZERO = 1e-3


@contextmanager
def one_thread() -> Iterator[None]:
    """Replay on one CPU thread, as the student's process trains (the drivers): other thread counts
    sum floats in another order, and the replay must see the same numbers."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Epoch:
    """The probe's epoch: examples, batch size, learning rate and seed, all chosen by the check."""

    model_dir: str
    examples: list[dict]
    batch_size: int
    learning_rate: float
    seed: int
    device: str


@dataclass(frozen=True)
class EpochVerdict:
    """What the replay found: every step right, or the first step that was not and what it matches."""

    right: bool
    #: "" when right; else "unreadable", "unchanged", "passes", "start", "eval mode", "accumulated"
    #: or "direction".
    found: str = ""
    step: int = 0
    batches: int = 0


def _weights(
    snapshot: Any, names: list[str], shapes: dict[str, torch.Size]
) -> dict[str, torch.Tensor] | None:
    """A snapshot as finite float tensors of the expected names and shapes, or None."""
    if not isinstance(snapshot, dict) or set(snapshot) != set(names):
        return None
    for name in names:
        tensor = snapshot[name]
        if not (
            isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.shape == shapes[name]
        ):
            return None
        if not bool(torch.isfinite(tensor).all()):
            return None
    return {name: snapshot[name].double() for name in names}


def _flat(weights: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
    return torch.cat([weights[name].reshape(-1).double().cpu() for name in names])


def _training_pass(
    passes: Any, names: list[str], shapes: dict[str, torch.Size]
) -> list[dict[str, torch.Tensor]] | str:
    """The one pass over the batches that changed the weights; or why there is none."""
    if not isinstance(passes, list) or not all(isinstance(p, list) for p in passes):
        return "unreadable"
    read: list[list[dict[str, torch.Tensor]]] = []
    for one in passes:
        snapshots = [_weights(s, names, shapes) for s in one]
        if any(s is None for s in snapshots):
            return "unreadable"
        read.append([s for s in snapshots if s is not None])
    changed = [
        one
        for one in read
        if any(not torch.equal(_flat(a, names), _flat(b, names)) for a, b in zip(one, one[1:], strict=False))
    ]
    if not changed:
        return "unchanged"
    return changed[0] if len(changed) == 1 else "passes"


class _Replay:
    """The probe model at the student's weights, and the gradients the right step would follow."""

    def __init__(self, epoch: Epoch) -> None:
        self.epoch = epoch
        self.model = probe_model(epoch.model_dir, dropout_seed=epoch.seed).to(epoch.device)
        self.names = [name for name, _ in self.model.named_parameters() if stepped(name)]
        self.shapes = {n: p.shape for n, p in self.model.named_parameters() if n in self.names}
        self.batches = list(probe_loader(epoch.model_dir, epoch.examples, epoch.batch_size))

    def head(self) -> torch.Tensor:
        return _flat({n: p.detach() for n, p in self.model.named_parameters()}, self.names)

    def gradient(self, index: int, training: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The gradient of the loss on batch `index` at the current weights: the head's (flat) and
        every parameter's; in training mode, with the masks of forward pass `index`."""
        model, batch, device = self.model, self.batches[index], self.epoch.device
        model.train(training)
        model.zero_grad(set_to_none=True)
        model.forward_counter[0] = index
        model(**batch["text_encoding"].to(device), labels=batch["label_encoding"].to(device)).loss.backward()
        grads = [
            p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()
        ]
        named = dict(zip([n for n, _ in model.named_parameters()], grads, strict=True))
        return _flat(named, self.names), grads

    def step(self, scale: float, grads: list[torch.Tensor], head: dict[str, torch.Tensor]) -> None:
        """Move every parameter by `scale` times its gradient, then set the head to the student's own
        weights after that step: the replay follows the student's trajectory."""
        with torch.no_grad():
            for (name, parameter), grad in zip(self.model.named_parameters(), grads, strict=True):
                if name in head:
                    parameter.copy_(head[name].to(parameter.dtype))
                else:
                    parameter -= scale * grad


def _fit(step: torch.Tensor, direction: torch.Tensor) -> tuple[float, float]:
    """The scale s >= 0 for which `step` is closest to -s * direction, and the distance left, relative
    to the step."""
    norm = float(direction @ direction)
    scale = max(0.0, -float(step @ direction) / norm) if norm > 0 else 0.0
    return scale, float((step + scale * direction).norm() / step.norm())


def judge_epoch(passes: Any, epoch: Epoch) -> EpochVerdict:
    """Replay the student's epoch step by step (the module's docstring says how)."""
    with one_thread():
        return _judge(passes, epoch)


def _judge(passes: Any, epoch: Epoch) -> EpochVerdict:
    replay = _Replay(epoch)
    count = len(replay.batches)
    found = _training_pass(passes, replay.names, replay.shapes)
    if isinstance(found, str):
        return EpochVerdict(False, found, 0, count)
    if len(found) != count + 1:
        return EpochVerdict(False, "passes", 0, count)
    flats = [_flat(weights, replay.names) for weights in found]
    if not torch.allclose(flats[0], replay.head(), rtol=0, atol=1e-6):
        return EpochVerdict(False, "start", 0, count)
    history: list[torch.Tensor] = []
    for index in range(count):
        change = flats[index + 1] - flats[index]
        head, grads = replay.gradient(index, training=True)
        history.append(head)
        if not bool(change.any()):
            continue
        scale, distance = _fit(change, head)
        if distance > SAME_DIRECTION:
            return EpochVerdict(False, _explain(replay, change, history, index), index, count)
        replay.step(scale, grads, found[index + 1])
    return EpochVerdict(True, batches=count)


def _explain(replay: _Replay, change: torch.Tensor, history: list[torch.Tensor], index: int) -> str:
    """What a wrong step matches: the gradient in evaluation mode, the sum of every gradient so far."""
    if _fit(change, replay.gradient(index, training=False)[0])[1] <= SAME_DIRECTION:
        return "eval mode"
    if index > 0 and _fit(change, torch.stack(history).sum(0))[1] <= SAME_DIRECTION:
        return "accumulated"
    return "direction"


@dataclass(frozen=True)
class ThresholdRun:
    """The settings of 3.5.1's run, as its driver receives them."""

    model_dir: str
    examples: list[dict]
    batch_size: int
    seed: int
    device: str


def first_step_problem(prefix: Any, run: ThresholdRun) -> str | None:
    """None when the run's weights after its first step moved against the first batch's gradient (or
    did not move: a warm-up); else what is wrong, for the student."""
    with one_thread():
        return _first_step(prefix, run)


def _first_batch(run: ThresholdRun) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    dataset: Any = run.examples  # a list serves as a map-style dataset
    loader: DataLoader = DataLoader(
        dataset,
        batch_size=run.batch_size,
        shuffle=True,
        collate_fn=partial(encode_batch, load_tokenizer(run.model_dir)),
        generator=torch.Generator().manual_seed(run.seed),
    )
    return next(iter(loader))


def _first_step(prefix: Any, run: ThresholdRun) -> str | None:
    model = threshold_model(run.model_dir, run.seed).to(run.device).train()
    names = [name for name, _ in model.named_parameters() if watched(name)]
    shapes = {n: p.shape for n, p in model.named_parameters() if n in names}
    after = _weights(prefix, names, shapes)
    if after is None:
        return "the run's weights after its first step did not come back in a form the grader can read"
    start = {n: p.detach().double().cpu() for n, p in model.named_parameters() if n in names}
    batch = _first_batch(run)
    model.forward_counter[0] = 0
    device = run.device
    model(**batch["text_encoding"].to(device), labels=batch["label_encoding"].to(device)).loss.backward()
    grads = dict(model.named_parameters())
    change = torch.cat([(after[n].cpu() - start[n]).reshape(-1) for n in names])
    gradient = torch.cat([grads[n].grad.detach().double().cpu().reshape(-1) for n in names])
    if not bool(change.any()):
        return None  # a warm-up's first step has a learning rate of zero
    clear = gradient.abs() >= CLEARLY_NONZERO * float(gradient.abs().max())
    against = (torch.sign(change[clear]) == -torch.sign(gradient[clear])).double().mean()
    if float(against) >= SIGN_AGREEMENT:
        return None
    return (
        f"after the first step, only {float(against):.0%} of the weights the grader follows had moved "
        "against the gradient of the loss on the first batch; an optimizer step on that batch moves "
        "nearly all of them so"
    )
