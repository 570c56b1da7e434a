"""§2.1.14 on the trusted side: the small GPT's data, its starting weights, and every measurement.

Shape tests cannot tell whether an attention can learn, so 2.1.14 trains a small GPT with the
student's ``init_qkv_proj`` and ``self_attention``. What runs where:

- here, in the trusted process: the corpus (documents alternating two words, "b d b d ...", so the
  next word is the one before the current one: a bigram model cannot predict it, attention can),
  drawn from the run's secret; the starting weights; the batches of every step;
- in the student's process (``a2/sections/s2/drivers/gpt_training.py``): the training itself, from exactly
  those weights and batches; it returns the trained weights, nothing else;
- here again: every number the verdict rests on. The held-out loss before and after training and the
  padding leak are computed by this process's own GPT, whose attention layers send their inputs to the
  student's ``self_attention`` (recorded under the from-scratch rule) and use what comes back. The
  gradient that reaches W_Q, W_K and W_V is the student's own vector-Jacobian product, checked
  against finite differences of the student's own outputs.

So a report, a loss or a flag computed in the student's process decides nothing: trained weights that
did not come from the student's attention are measured with the student's attention all the same.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tinygpt.config import GPTConfig
from tinygpt.model import GPT
from tinygpt.vocab import Vocabulary, encode_corpus, pad_batch

WORDS = tuple("abcdefghijkl")
EXTRA_PADDING = 5
SIZES = {"n_layer": 2, "n_head": 3, "n_embd": 24, "block_size": 32}
STEPS = 80
BATCH_SIZE = 16
LEARNING_RATE = 1e-2

AttentionFn = Callable[..., torch.Tensor]


def reference_init(n_embd: int) -> tuple[nn.Module, nn.Module, nn.Module]:
    """The notebook's given ``init_qkv_proj``: three n_embd -> n_embd linear maps with bias."""
    return nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)


def alternating_documents(n_docs: int, rng: random.Random) -> list[list[str]]:
    """Documents of 4 to 16 words, each alternating a random pair of distinct words."""
    documents = []
    for _ in range(n_docs):
        first, second = rng.sample(WORDS, 2)
        documents.append([first if i % 2 == 0 else second for i in range(rng.randint(4, 16))])
    return documents


@dataclass
class TrainingPlan:
    """Everything the student's process needs to train, all chosen here, and the held-out data."""

    vocab_size: int
    pad_id: int
    initial_weights: dict[str, torch.Tensor]
    batches: list[tuple[torch.Tensor, torch.Tensor]]
    held_inputs: torch.Tensor
    held_targets: torch.Tensor

    def driver_params(self) -> dict:
        return {
            "vocab_size": self.vocab_size,
            "pad_id": self.pad_id,
            "sizes": SIZES,
            "initial_weights": self.initial_weights,
            "batches": self.batches,
            "learning_rate": LEARNING_RATE,
        }


def config(vocab_size: int, pad_id: int, attn_fn: AttentionFn) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab_size,
        attn_init_fn=reference_init,
        attn_fn=attn_fn,
        pad_token=pad_id,
        dropout=0.0,
        **SIZES,
    )


def plan(seed: int) -> TrainingPlan:
    """The corpus, starting weights and batches of one run, all from ``seed``."""
    rng = random.Random(seed)
    train_docs, held_out_docs = alternating_documents(512, rng), alternating_documents(64, rng)
    vocab = Vocabulary.build(train_docs, min_count=1)
    train_ids, held_out_ids = encode_corpus(train_docs, vocab), encode_corpus(held_out_docs, vocab)
    torch.manual_seed(seed)
    model = GPT(config(len(vocab), vocab.pad_id, lambda *args, **kwargs: args[0]))
    weights = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    batches = [pad_batch(rng.sample(train_ids, BATCH_SIZE), vocab.pad_id) for _ in range(STEPS)]
    held_inputs, held_targets = pad_batch(held_out_ids, vocab.pad_id)
    return TrainingPlan(len(vocab), vocab.pad_id, weights, batches, held_inputs, held_targets)


class WeightsRejected(ValueError):
    """Trained weights that do not fit the model or are not finite; the message says which."""


def model_with(training: TrainingPlan, weights: object, attn_fn: AttentionFn) -> GPT:
    """This process's GPT with ``weights`` loaded and ``attn_fn`` as its attention."""
    model = GPT(config(training.vocab_size, training.pad_id, attn_fn)).eval()
    expected = model.state_dict()
    if not isinstance(weights, dict) or set(weights) != set(expected):
        raise WeightsRejected("the trained model did not come back with the parameters it was given")
    for name, tensor in weights.items():
        if not isinstance(tensor, torch.Tensor) or tensor.shape != expected[name].shape:
            raise WeightsRejected(f"the trained parameter {name} came back with another shape")
        if not tensor.is_floating_point() or not bool(torch.isfinite(tensor).all()):
            raise WeightsRejected("nan")
    model.load_state_dict({name: tensor.float() for name, tensor in weights.items()})
    return model


@torch.no_grad()
def held_out_loss(model: GPT, training: TrainingPlan) -> float:
    return float(model(training.held_inputs, training.held_targets)[1])


@torch.no_grad()
def padding_leak(model: GPT, training: TrainingPlan) -> float:
    """Largest change of a real token's logits when ``EXTRA_PADDING`` pad columns are appended."""
    inputs = training.held_inputs
    logits, _ = model(inputs)
    padding = torch.full((inputs.shape[0], EXTRA_PADDING), training.pad_id, dtype=inputs.dtype)
    padded_logits, _ = model(torch.cat([inputs, padding], dim=1))
    real = (inputs != training.pad_id).unsqueeze(-1)
    change = ((padded_logits[:, : inputs.shape[1]] - logits).abs() * real).max()
    return float(change) if bool(torch.isfinite(change)) else float("inf")


def gradient_probe(seed: int) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, tuple[torch.Tensor, ...]]:
    """Inputs (Q, K, V of one small batch), a cotangent and a direction for the gradient check."""
    generator = torch.Generator().manual_seed(seed)
    shape = (2, 7, SIZES["n_embd"])
    inputs = tuple(torch.randn(shape, generator=generator) for _ in range(3))
    cotangent = torch.randn(shape, generator=generator)
    direction = tuple(torch.randn(shape, generator=generator) for _ in range(3))
    return inputs, cotangent, direction
