# Generated for the course's release: part of the tinygpt package the notebooks use.
"""A plain training loop for tinygpt: AdamW on random batches of documents, with a progress bar."""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from tinygpt.evaluate import document_losses
from tinygpt.model import GPT
from tinygpt.vocab import pad_batch


@dataclass
class TrainingHistory:
    """Losses recorded while training: the train loss of every step, the validation loss at intervals."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def pick_device() -> torch.device:
    """CUDA when a GPU is visible (minutes), else the CPU (hours on the full corpus)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(
    model: GPT,
    train_docs: Sequence[Sequence[int]],
    val_docs: Sequence[Sequence[int]],
    steps: int,
    batch_size: int = 32,
    learning_rate: float = 5e-4,
    eval_every: int = 100,
    eval_docs: int = 500,
    seed: int = 0,
    progress: bool = True,
) -> TrainingHistory:
    """Train ``model`` in place for ``steps`` batches and return its loss history.

    The model trains on the device its parameters are on (move it first, e.g. with
    ``model.to(pick_device())``). The validation loss is the mean document loss on the first
    ``eval_docs`` validation documents, measured every ``eval_every`` steps and after the last one.
    """
    if model.config.pad_token is None:
        raise ValueError("train needs a model whose config sets pad_token (documents are padded).")
    if steps < 1 or not train_docs or not val_docs:
        raise ValueError("train needs steps >= 1 and non-empty train and validation documents.")
    device = next(model.parameters()).device
    print(f"training on {device.type}")
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    history = TrainingHistory()
    val_subset = val_docs[:eval_docs]
    model.train()
    bar = tqdm(range(1, steps + 1), desc="training", disable=not progress)
    for step in bar:
        batch = [train_docs[rng.randrange(len(train_docs))] for _ in range(batch_size)]
        inputs, targets = pad_batch(batch, model.config.pad_token)
        _, loss = model(inputs.to(device), targets.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(loss.item())
        if step % eval_every == 0 or step == steps:
            history.eval_steps.append(step)
            history.val_loss.append(document_losses(model, val_subset).mean().item())
            bar.set_postfix(train=f"{loss.item():.3f}", val=f"{history.val_loss[-1]:.3f}")
    return history
