"""§2.1 oracle for the helpers: the direct formula of each, as the contract gives it.

These are working solutions of the hidden helper tests, so only hidden checks and the known-bug
diagnosis import this module; the students' checker never ships it (``self_attention``'s oracle is
``a2.sections.s2.mha``). Everything is computed in float64 so that the oracle's own rounding is far
below the 1e-5 tolerance.
"""

import math

import torch


def pairwise_similarities(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Q Kᵀ over the last two dims."""
    return q.double() @ k.double().transpose(-2, -1)


def attn_scaled(a: torch.Tensor, n_embd: float, n_heads: float) -> torch.Tensor:
    """A / sqrt(n_embd / n_heads)."""
    return a.double() / math.sqrt(n_embd / n_heads)


def attn_softmax(a: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim."""
    return torch.softmax(a.double(), dim=-1)


def compute_outputs(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A V."""
    return a.double() @ v.double()


def make_causal_mask(n_tok: int) -> torch.Tensor:
    """Lower-triangular boolean mask: True where attending is allowed."""
    return torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool))


def apply_causal_mask(mask: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """A with the entries the mask forbids set to −inf."""
    return a.double().masked_fill(~mask.bool(), float("-inf"))


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, n_tok, n_embd) -> (B, n_heads, n_tok, n_embd / n_heads)."""
    b, n_tok, n_embd = x.shape
    return x.reshape(b, n_tok, n_heads, n_embd // n_heads).transpose(1, 2)


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """(B, n_heads, n_tok, d) -> (B, n_tok, n_heads * d), the inverse of ``split_heads``."""
    b, n_heads, n_tok, d = y.shape
    return y.transpose(1, 2).reshape(b, n_tok, n_heads * d)
