"""§1 oracle: the grader's own K and V, unscaled attention, and the shape of a question.

Each question itself (its answer's name, the output it must produce, the weights that produce it) is
declared beside its check, in a2/checks/test_s1_public.py.

The grader never trusts the K and V a submission carries (a student could edit them to make any query
look right), so it rebuilds them exactly as the notebook does: seed 447, ``randn(4, 3)`` for K then V,
each row normalised to unit length, rounded to two decimals.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

SEED = 447
N_ROWS, N_DIMS = 4, 3
#: The row of K that §1.4 lets the student replace.
REPLACEABLE_KEY_ROW = 2


def grader_key_value() -> tuple[torch.Tensor, torch.Tensor]:
    """K and V as the notebook makes them, in float64."""
    generator = torch.Generator().manual_seed(SEED)
    made = []
    for _ in range(2):
        rows = torch.randn(N_ROWS, N_DIMS, generator=generator)
        rows = rows / rows.norm(dim=1, keepdim=True)
        made.append(rows.round(decimals=2).double())
    return made[0], made[1]


def attention_weights(queries: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """softmax(Q Kᵀ) without a scale: one row of weights over the four values per query."""
    return torch.softmax(queries @ key.T, dim=-1)


def attention_output(queries: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """softmax(Q Kᵀ) V, the unscaled attention §1 uses throughout."""
    return attention_weights(queries, key) @ value


@dataclass(frozen=True)
class Question:
    """One §1 question: the answer's name, how many query rows it has, and the output it must produce."""

    number: str
    name: str
    query_rows: int
    target: Callable[[torch.Tensor], torch.Tensor]
    wanted_weights: Callable[[], torch.Tensor]
    goal: str


def weights(*rows: list[float]) -> Callable[[], torch.Tensor]:
    """The attention weights a question wants, one row per query, built when asked (in float64)."""
    return lambda: torch.tensor(rows, dtype=torch.float64)


def changed_key_rows(student_key: torch.Tensor, key: torch.Tensor, atol: float = 1e-3) -> list[int]:
    """Rows of a §1.4 key that differ from the grader's K (2-decimal values, so 1e-3 separates them)."""
    return [int(i) for i in torch.nonzero((student_key - key).abs().amax(dim=1) > atol).flatten()]
