"""Runs in the student's process: trains tinygpt with the student's attention and probes it.

Shape tests cannot tell whether an attention can learn. This driver plugs the student's
``init_qkv_proj`` and ``self_attention`` into our GPT, trains it for a fixed number of steps on a small
generated corpus that only attention can model, and reports numbers the trusted check judges:

- the held-out loss before and after training (it must fall by a set margin);
- the gradient reaching W_Q, W_K and W_V (zero when the attention breaks autograd);
- the padding leak: how much the logits of real tokens change when more padding is appended
  (non-zero when a token can see the positions after it);
- which of PyTorch's ready-made attention functions ran during training (the from-scratch rule).

It returns plain numbers only; the trusted side never trusts more than that.
"""

import random
from types import ModuleType
from typing import Any

import torch

from grader.diagnosis.from_scratch import RUNTIME_TRACE
from grader.sandbox.child import Child
from tinygpt.config import GPTConfig
from tinygpt.model import GPT
from tinygpt.vocab import Vocabulary, encode_corpus, pad_batch

#: Words of the generated corpus. Each document alternates two of them ("b d b d b ..."), so the next
#: word is the one before the current one: a bigram model cannot predict it, attention can.
WORDS = tuple("abcdefghijkl")
EXTRA_PADDING = 5


def alternating_documents(n_docs: int, rng: random.Random) -> list[list[str]]:
    """Documents of 4 to 16 words, each alternating a random pair of distinct words."""
    documents = []
    for _ in range(n_docs):
        first, second = rng.sample(WORDS, 2)
        documents.append([first if i % 2 == 0 else second for i in range(rng.randint(4, 16))])
    return documents


def _projection_grad_norm(model: GPT) -> float:
    attentions: list[Any] = [block.attn for block in model.blocks]
    norms = [
        p.grad.norm()
        for attn in attentions
        for proj in (attn.w_q, attn.w_k, attn.w_v)
        for p in proj.parameters()
        if p.grad is not None
    ]
    return float(torch.stack(norms).norm()) if norms else 0.0


@torch.no_grad()
def _padding_leak(model: GPT, inputs: torch.Tensor, pad_id: int) -> float:
    """Largest change of a real token's logits when ``EXTRA_PADDING`` pad columns are appended."""
    logits, _ = model(inputs)
    padded = torch.cat(
        [inputs, torch.full((inputs.shape[0], EXTRA_PADDING), pad_id, dtype=inputs.dtype)], dim=1
    )
    padded_logits, _ = model(padded)
    real = (inputs != pad_id).unsqueeze(-1)
    return float(((padded_logits[:, : inputs.shape[1]] - logits).abs() * real).max())


@torch.no_grad()
def _loss(model: GPT, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float(model(inputs, targets)[1])


def train_and_probe(
    student: ModuleType,
    steps: int = 80,
    batch_size: int = 16,
    learning_rate: float = 1e-2,
    n_layer: int = 2,
    n_head: int = 3,
    n_embd: int = 24,
    seed: int = 447,
) -> dict[str, float | int | list[float] | list[str]]:
    """Train a small GPT with the student's attention; return losses, the gradient norm, the leak and
    the forbidden functions that ran."""
    torch.set_num_threads(1)  # a model this small trains fastest, and reproducibly, on one thread
    rng = random.Random(seed)
    torch.manual_seed(seed)
    train_docs, held_out_docs = alternating_documents(512, rng), alternating_documents(64, rng)
    vocab = Vocabulary.build(train_docs, min_count=1)
    train_ids, held_out_ids = encode_corpus(train_docs, vocab), encode_corpus(held_out_docs, vocab)
    config = GPTConfig(
        vocab_size=len(vocab),
        attn_init_fn=student.init_qkv_proj,
        attn_fn=student.self_attention,
        pad_token=vocab.pad_id,
        block_size=32,
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        dropout=0.0,
    )
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    held_inputs, held_targets = pad_batch(held_out_ids, vocab.pad_id)
    model.eval()
    initial = _loss(model, held_inputs, held_targets)
    losses, grad_norm = [], 0.0
    forbidden_calls: list[str] = []
    model.train()
    restore = Child.install_traces(list(RUNTIME_TRACE), forbidden_calls, (student,))
    try:
        for step in range(steps):
            inputs, targets = pad_batch(rng.sample(train_ids, batch_size), vocab.pad_id)
            _, loss = model(inputs, targets)
            optimizer.zero_grad()
            loss.backward()
            if step == 0:
                grad_norm = _projection_grad_norm(model)
            optimizer.step()
            losses.append(float(loss.detach()))
    finally:
        for owner, attr, original in restore:
            setattr(owner, attr, original)
    model.eval()
    return {
        "steps": steps,
        "initial_loss": initial,
        "final_loss": _loss(model, held_inputs, held_targets),
        "train_losses": losses,
        "projection_grad_norm": grad_norm,
        "padding_leak": _padding_leak(model, held_inputs, vocab.pad_id),
        "forbidden_calls": sorted(set(forbidden_calls)),
    }
