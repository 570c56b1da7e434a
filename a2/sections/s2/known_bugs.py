"""Known §2.1 bugs, each reproduced on purpose, so that feedback can name the one a student has.

When a student's output is wrong, the checks recompute the same inputs with each known bug in turn
(in float64); a bug whose output matches the student's is named in the feedback with a hint to the
fix. A match is only a likely cause, so the wording says "matches", never "you did".
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


def _split(x: torch.Tensor, n_heads: int, how: str) -> torch.Tensor:
    b, n_tok, n_embd = x.shape
    d = n_embd // n_heads
    if how == "reshape":
        return x.reshape(b, n_heads, n_tok, d)
    if how == "interleaved":
        return x.reshape(b, n_tok, d, n_heads).permute(0, 3, 1, 2)
    return oracle.split_heads(x, n_heads)


def _merge(y: torch.Tensor, how: str) -> torch.Tensor:
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
    qh, kh, vh = (_split(t, n_heads, split) for t in (q, k, v))
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
    return _merge(a @ vh, merge)


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


# ------------------------------------------------------------------ the helpers, one list each


def _softmax_other_dims(a: torch.Tensor) -> list[KnownBug]:
    return [
        KnownBug(
            f"the softmax is taken over dim {dim} of {a.dim()} instead of the last",
            "Each row of weights (one query over all keys) must sum to 1: use dim=-1.",
            lambda a, dim=dim: torch.softmax(a.double(), dim=dim),
        )
        for dim in range(a.dim() - 1)
    ]


HELPER_BUGS: dict[str, Callable[..., list[KnownBug]]] = {
    "pairwise_similarities": lambda q, k: [
        KnownBug(
            "the result is transposed (K Qᵀ instead of Q Kᵀ)",
            "Entry (i, j) is q_i · k_j: compute Q @ K.transpose(-2, -1).",
            lambda q, k: k.double() @ q.double().transpose(-2, -1),
        ),
        KnownBug(
            "Qᵀ K was computed instead of Q Kᵀ",
            "Transpose K's last two dims, not Q's.",
            lambda q, k: q.double().transpose(-2, -1) @ k.double(),
        ),
    ],
    "attn_scaled": lambda a, n_embd, n_heads: [
        KnownBug(
            "A is divided by sqrt(n_embd) instead of sqrt(n_embd / n_heads)",
            "The scale uses one head's size, n_embd / n_heads.",
            lambda a, n_embd, n_heads: a.double() / math.sqrt(n_embd),
        ),
        KnownBug(
            "A is divided by n_embd / n_heads without the square root",
            "Divide by sqrt(n_embd / n_heads).",
            lambda a, n_embd, n_heads: a.double() / (n_embd / n_heads),
        ),
        KnownBug(
            "A is multiplied by sqrt(n_embd / n_heads) instead of divided",
            "Divide by sqrt(n_embd / n_heads).",
            lambda a, n_embd, n_heads: a.double() * math.sqrt(n_embd / n_heads),
        ),
        KnownBug(
            "A is returned without scaling",
            "Divide by sqrt(n_embd / n_heads).",
            lambda a, n_embd, n_heads: a.double(),
        ),
    ],
    "attn_softmax": lambda a: [
        *_softmax_other_dims(a),
        KnownBug(
            "log_softmax was used instead of softmax",
            "The weights are probabilities: use torch.softmax(A, dim=-1).",
            lambda a: torch.log_softmax(a.double(), dim=-1),
        ),
        KnownBug("A is returned unchanged", "Apply a softmax over the last dim.", lambda a: a.double()),
    ],
    "compute_outputs": lambda a, v: [
        KnownBug(
            "the attention matrix is transposed before multiplying",
            "Each output row is a weighted sum of value rows: compute A @ V.",
            lambda a, v: a.double().transpose(-2, -1) @ v.double(),
        ),
    ],
    "make_causal_mask": lambda n_tok: [
        KnownBug(
            "the mask is upper- instead of lower-triangular",
            "Allowed entries are on and below the diagonal: use torch.tril.",
            lambda n_tok: torch.triu(torch.ones(n_tok, n_tok)),
        ),
        KnownBug(
            "the mask leaves out the diagonal",
            "A token may attend to itself: torch.tril with diagonal=0.",
            lambda n_tok: torch.tril(torch.ones(n_tok, n_tok), diagonal=-1),
        ),
        KnownBug(
            "the mask marks the forbidden entries instead of the allowed ones",
            "It is 1/True where attending is allowed (on and below the diagonal).",
            lambda n_tok: torch.triu(torch.ones(n_tok, n_tok), diagonal=1),
        ),
    ],
    "apply_causal_mask": lambda mask, a: [
        KnownBug(
            "masked entries are set to 0 instead of -inf",
            "A score of 0 still gets weight after the softmax: set masked scores to -inf (or a very large "
            "negative number), so their weight becomes 0.",
            lambda mask, a: a.double().masked_fill(~mask.bool(), 0.0),
        ),
        KnownBug(
            "the mask's meaning is inverted",
            "The entries where the mask is 0/False become -inf; the others stay as they are.",
            lambda mask, a: a.double().masked_fill(mask.bool(), float("-inf")),
        ),
    ],
    "split_heads": lambda x, n_heads: [
        KnownBug(
            "split_heads uses a single reshape, without a transpose",
            "Reshape to (B, n_tok, n_heads, d) first, then transpose dims 1 and 2.",
            lambda x, n_heads: _split(x.double(), n_heads, "reshape"),
        ),
        KnownBug(
            "the heads take interleaved features",
            "Reshape to (B, n_tok, n_heads, d), not (B, n_tok, d, n_heads), before transposing.",
            lambda x, n_heads: _split(x.double(), n_heads, "interleaved"),
        ),
        KnownBug(
            "the transpose is missing: heads come after the tokens",
            "After reshaping to (B, n_tok, n_heads, d), "
            "transpose dims 1 and 2 to get (B, n_heads, n_tok, d).",
            lambda x, n_heads: x.double().reshape(x.shape[0], x.shape[1], n_heads, -1),
        ),
    ],
    "merge_heads": lambda y: [
        KnownBug(
            "merge_heads is not the inverse of split_heads (a single reshape, no transpose)",
            "Transpose (B, n_heads, n_tok, d) to (B, n_tok, n_heads, d) first, "
            "then reshape to (B, n_tok, n_embd).",
            lambda y: _merge(y.double(), "reshape"),
        ),
        KnownBug(
            "merge_heads interleaves the heads' features",
            "Head h's features go to columns h*d .. (h+1)*d - 1: transpose to (B, n_tok, n_heads, d), "
            "then reshape.",
            lambda y: _merge(y.double(), "interleaved"),
        ),
    ],
}


def helper_matches(name: str, got: torch.Tensor, *args: object) -> list[KnownBug]:
    """The known bugs of helper ``name`` that reproduce ``got`` from ``args``. A helper with none
    listed matches none: its wrong answers fail plainly, never as an error of the grader's."""
    bugs = HELPER_BUGS.get(name)
    return all_matches(got, bugs(*args), *args) if bugs is not None else []


def diagnose_helper(name: str, got: torch.Tensor, *args: object) -> KnownBug | None:
    """The first known bug of helper ``name`` that reproduces ``got`` from ``args``, if any."""
    return next(iter(helper_matches(name, got, *args)), None)
