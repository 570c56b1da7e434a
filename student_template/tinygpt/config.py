# Generated for the course's release: part of the tinygpt package the notebooks use.
"""Model configuration for tinygpt.

The attention is not part of the model: the configuration carries the two functions that make it,
so that a notebook (or the grader) can train the same GPT with any attention it likes.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

AttnInitFn = Callable[[int], tuple[nn.Module, nn.Module, nn.Module]]
AttnFn = Callable[..., torch.Tensor]

#: Longest sequence the course trains on; documents are truncated to this many tokens.
MAX_TOKENS = 100


@dataclass
class GPTConfig:
    """Sizes and the pluggable attention of a GPT.

    ``attn_init_fn(n_embd)`` returns the three projections (W_Q, W_K, W_V), each a module mapping
    (..., n_embd) to (..., n_embd). ``attn_fn(Q, K, V, n_heads=n_head, causal=True)`` maps three
    (B, n_tok, n_embd) tensors to a (B, n_tok, n_embd) tensor, without an output projection (the
    model adds one). ``pad_token``: positions holding it are zeroed after attention and ignored
    by the loss; None when the data has no padding.
    """

    vocab_size: int
    attn_init_fn: AttnInitFn
    attn_fn: AttnFn
    pad_token: int | None = None
    block_size: int = MAX_TOKENS
    n_layer: int = 3
    n_head: int = 3
    n_embd: int = 48
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}).")
        if self.vocab_size < 1 or self.block_size < 1:
            raise ValueError("vocab_size and block_size must be positive.")
        if self.pad_token is not None and not 0 <= self.pad_token < self.vocab_size:
            raise ValueError(f"pad_token {self.pad_token} is not an id below vocab_size {self.vocab_size}.")
        if not callable(self.attn_init_fn) or not callable(self.attn_fn):
            raise TypeError("attn_init_fn and attn_fn must be functions (see GPTConfig's docstring).")


def gpt_nano(
    vocab_size: int, attn_init_fn: AttnInitFn, attn_fn: AttnFn, pad_token: int | None = None
) -> GPTConfig:
    """The "gpt-nano" size the course trains: 3 layers, 3 heads, 48-dimensional embeddings."""
    return GPTConfig(
        vocab_size=vocab_size,
        attn_init_fn=attn_init_fn,
        attn_fn=attn_fn,
        pad_token=pad_token,
        n_layer=3,
        n_head=3,
        n_embd=48,
    )
