"""§2.1 oracle: PyTorch's own multi-head attention and the direct formula for every helper.

``self_attention`` is judged against ``multi_head_attention_forward`` with identity projections, as the
notebook's checks do; the helpers against the one-line formulas the contract gives. Everything is
computed in float64 so that the oracle's own rounding is far below the 1e-5 tolerance.
"""

import math

import torch
import torch.nn.functional as F


def reference_self_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, causal: bool
) -> torch.Tensor:
    """Causal (or not) multi-head scaled dot-product attention, no output projection, in float64."""
    q, k, v = (t.double() for t in (q, k, v))
    _, n_tok, n_embd = q.shape
    eye = torch.eye(n_embd, dtype=torch.float64, device=q.device)
    mask = None
    if causal:
        mask = ~torch.tril(torch.ones(n_tok, n_tok, dtype=torch.bool, device=q.device))
    out, _ = F.multi_head_attention_forward(
        q.transpose(0, 1),
        k.transpose(0, 1),
        v.transpose(0, 1),
        embed_dim_to_check=n_embd,
        num_heads=n_heads,
        in_proj_weight=eye.repeat(3, 1),
        in_proj_bias=None,
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.0,
        out_proj_weight=eye,
        out_proj_bias=None,
        training=False,
        need_weights=False,
        attn_mask=mask,
    )
    return out.transpose(0, 1)


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
