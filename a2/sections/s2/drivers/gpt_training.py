"""Runs in the student's process: trains the small GPT of 2.1.14 with the student's attention.

Everything it uses comes from the trusted side (``a2/sections/s2/small_gpt.py``): the sizes, the
starting weights, the batch of every step, the learning rate. It returns the trained weights and
nothing else; every measurement that decides the test is made on the trusted side.
"""

from __future__ import annotations

from types import ModuleType

import torch

from tinygpt.config import GPTConfig
from tinygpt.model import GPT


def train(
    student: ModuleType,
    vocab_size: int,
    pad_id: int,
    sizes: dict,
    initial_weights: dict,
    batches: list,
    learning_rate: float,
) -> dict:
    """Train from ``initial_weights`` on ``batches`` (one AdamW step each); return the weights."""
    torch.set_num_threads(1)  # a model this small trains fastest, and reproducibly, on one thread
    config = GPTConfig(
        vocab_size=vocab_size,
        attn_init_fn=student.init_qkv_proj,
        attn_fn=student.self_attention,
        pad_token=pad_id,
        dropout=0.0,
        **sizes,
    )
    model = GPT(config)
    model.load_state_dict(initial_weights)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    for inputs, targets in batches:
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"weights": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}}
