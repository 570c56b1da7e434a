"""Known §2.1 bugs, each reproduced on purpose, so that feedback can name the one a student has.

When a student's output is wrong, the checks recompute the same inputs with each known bug in turn
(in float64); a bug whose output matches the student's is named in the feedback with a hint to the
fix. A match is only a likely cause, so the wording says "matches", never "you did".

A helper's known bugs are declared beside its check (a2/checks/test_s2_hidden.py), which hands them
to ``judging.helper_failure``; a helper whose check declares none fails plainly. self_attention's are
here: six checks share them, public ones among them, and the students' checker leaves this module out.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from a2.sections.s2 import oracle
from a2.sections.s2.closeness import matches


@dataclass(frozen=True)
class KnownBug:
    """A named mistake: what it is, how to fix it, and how to reproduce its output."""

    name: str
    hint: str
    produce: Callable[..., torch.Tensor] = field(repr=False)

    def message(self) -> str:
        return f"Likely bug: {self.name}. {self.hint}"


#: A helper's known bugs, built from the arguments of the call whose wrong output they may reproduce.
HelperBugs = Callable[..., list[KnownBug]]


def all_matches(got: torch.Tensor, bugs: list[KnownBug], *args: object) -> list[KnownBug]:
    """Every known bug that reproduces ``got`` from ``args``, in the list's order."""
    found = []
    for bug in bugs:
        try:
            candidate = bug.produce(*args)
        except RuntimeError:
            continue
        if matches(got, candidate):
            found.append(bug)
    return found


def consistent_bug(candidates: list[list[KnownBug]]) -> KnownBug | None:
    """The bug that explains every failing input, or else the first one that explains the first.

    One input alone can be ambiguous (with one token, a hidden diagonal and an inverted mask both
    give NaN); the bug shared by all failing inputs is the better guess.
    """
    if not candidates or not candidates[0]:
        return None
    shared = [bug for bug in candidates[0] if all(bug in found for found in candidates[1:])]
    return (shared or candidates[0])[0]


# ------------------------------------------------------------------ self_attention, assembled from parts


def split_wrongly(x: torch.Tensor, n_heads: int, how: str) -> torch.Tensor:
    b, n_tok, n_embd = x.shape
    d = n_embd // n_heads
    if how == "reshape":
        return x.reshape(b, n_heads, n_tok, d)
    if how == "interleaved":
        return x.reshape(b, n_tok, d, n_heads).permute(0, 3, 1, 2)
    return oracle.split_heads(x, n_heads)


def merge_wrongly(y: torch.Tensor, how: str) -> torch.Tensor:
    b, n_heads, n_tok, d = y.shape
    if how == "reshape":
        return y.reshape(b, n_tok, n_heads * d)
    if how == "interleaved":
        return y.permute(0, 2, 3, 1).reshape(b, n_tok, n_heads * d)
    return oracle.merge_heads(y)


def _allowed(n_tok: int, how: str, device: torch.device) -> torch.Tensor:
    ones = torch.ones(n_tok, n_tok, dtype=torch.bool, device=device)
    return {
        "lower": torch.tril(ones),
        "upper": torch.triu(ones),
        "strict_lower": torch.tril(ones, diagonal=-1),
        "inverted": ~torch.tril(ones),
    }[how]


def buggy_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    n_heads: int,
    causal: bool,
    *,
    split: str = "correct",
    merge: str = "correct",
    scores: str = "qk",
    scale: str = "head",
    softmax_dim: int = -1,
    mask: str = "lower",
) -> torch.Tensor:
    """Self-attention with the named parts done wrongly (the defaults give the right answer)."""
    q, k, v = (t.double() for t in (q, k, v))
    n_tok, n_embd = q.shape[1], q.shape[2]
    qh, kh, vh = (split_wrongly(t, n_heads, split) for t in (q, k, v))
    a = qh @ kh.transpose(-2, -1) if scores == "qk" else kh @ qh.transpose(-2, -1)
    divisor = {
        "head": math.sqrt(n_embd / n_heads),
        "none": 1.0,
        "full": math.sqrt(n_embd),
        "no_sqrt": n_embd / n_heads,
        "multiply": 1 / math.sqrt(n_embd / n_heads),
    }[scale]
    a = a / divisor
    masked = causal or mask == "always"
    allowed = _allowed(n_tok, "lower" if mask in ("always", "after_softmax", "never") else mask, q.device)
    if masked and mask not in ("after_softmax", "never"):
        a = a.masked_fill(~allowed, float("-inf"))
    a = torch.softmax(a, dim=softmax_dim)
    if masked and mask == "after_softmax":
        a = a.masked_fill(~allowed, 0.0)
    return merge_wrongly(a @ vh, merge)


def _attention_bug(name: str, hint: str, **parts: Any) -> KnownBug:
    return KnownBug(
        name, hint, lambda q, k, v, n_heads, causal: buggy_attention(q, k, v, n_heads, causal, **parts)
    )


SELF_ATTENTION_BUGS: list[KnownBug] = [
    _attention_bug(
        "the causal mask is applied after the softmax",
        "Masked weights were set to 0 after the softmax, so each row no longer sums to 1. Set the masked "
        "scores to -inf (or a very large negative number) before the softmax instead.",
        mask="after_softmax",
    ),
    _attention_bug(
        "the scores are not scaled",
        "Divide the scores by sqrt(n_embd / n_heads) before the softmax.",
        scale="none",
    ),
    _attention_bug(
        "the scores are scaled by sqrt(n_embd) instead of sqrt(n_embd / n_heads)",
        "The scale uses the size of one head, n_embd / n_heads, not the whole embedding.",
        scale="full",
    ),
    _attention_bug(
        "the scores are divided by n_embd / n_heads without the square root",
        "The scale is 1 / sqrt(n_embd / n_heads).",
        scale="no_sqrt",
    ),
    _attention_bug(
        "the scores are multiplied by sqrt(n_embd / n_heads) instead of divided",
        "Divide the scores by sqrt(n_embd / n_heads).",
        scale="multiply",
    ),
    _attention_bug(
        "the softmax is taken over the queries (dim -2) instead of the keys (dim -1)",
        "Each query's weights over the keys must sum to 1: take the softmax over the last dim.",
        softmax_dim=-2,
    ),
    _attention_bug(
        "the heads are split with a single reshape, without a transpose",
        "Reshaping (B, n_tok, n_embd) straight to (B, n_heads, n_tok, d) mixes tokens between heads. "
        "Reshape to (B, n_tok, n_heads, d) first, then transpose dims 1 and 2 "
        "(and undo both in merge_heads).",
        split="reshape",
        merge="reshape",
    ),
    _attention_bug(
        "split_heads uses a single reshape, without a transpose",
        "Reshape to (B, n_tok, n_heads, d) first, then transpose dims 1 and 2.",
        split="reshape",
    ),
    _attention_bug(
        "merge_heads is not the inverse of split_heads",
        "Transpose (B, n_heads, n_tok, d) back to (B, n_tok, n_heads, d) "
        "before reshaping to (B, n_tok, n_embd).",
        merge="reshape",
    ),
    _attention_bug(
        "the heads take interleaved features",
        "Head h must get features h*d .. (h+1)*d - 1: "
        "reshape to (B, n_tok, n_heads, d), not (B, n_tok, d, n_heads).",
        split="interleaved",
        merge="interleaved",
    ),
    _attention_bug(
        "the causal mask is upper- instead of lower-triangular",
        "A token may attend to itself and earlier tokens: build the mask with torch.tril, not torch.triu.",
        mask="upper",
    ),
    _attention_bug(
        "the causal mask hides the diagonal",
        "Each token may attend to itself: keep the diagonal (torch.tril with diagonal=0).",
        mask="strict_lower",
    ),
    _attention_bug(
        "the mask's meaning is inverted",
        "The mask is 1/True where attending is allowed; the entries where it is 0/False become -inf.",
        mask="inverted",
    ),
    _attention_bug(
        "causal=True is ignored",
        "When causal is True, apply the causal mask before the softmax.",
        mask="never",
    ),
    _attention_bug(
        "the mask is applied even when causal=False",
        "Apply the causal mask only when causal is True.",
        mask="always",
    ),
    _attention_bug(
        "the similarity matrix is transposed (K Qᵀ instead of Q Kᵀ)",
        "Entry (i, j) of the scores is q_i · k_j: compute Q @ K.transpose(-2, -1).",
        scores="kq",
    ),
]


def self_attention_matches(
    got: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, causal: bool
) -> list[KnownBug]:
    """The known bugs whose output equals ``got`` on these inputs."""
    return all_matches(got, SELF_ATTENTION_BUGS, q, k, v, n_heads, causal)


def diagnose_self_attention(
    got: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, causal: bool
) -> KnownBug | None:
    """The first known bug whose output equals ``got`` on these inputs, if any."""
    return next(iter(self_attention_matches(got, q, k, v, n_heads, causal)), None)
