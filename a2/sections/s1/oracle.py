"""§1 oracle: the grader's own K and V, unscaled attention, and what each question asks for.

The grader never trusts the K and V a submission carries (a student could edit them to make any query
look right), so it rebuilds them exactly as the notebook does: seed 447, ``randn(4, 3)`` for K then V,
each row normalised to unit length, rounded to two decimals.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
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


def _weights(*rows: list[float]) -> Callable[[], torch.Tensor]:
    return lambda: torch.tensor(rows, dtype=torch.float64)


QUESTIONS: dict[str, Question] = {
    q.number: q
    for q in (
        Question("1.2.1", "query121", 1, lambda v: v[0:1], _weights([1, 0, 0, 0]), "select v0"),
        Question(
            "1.2.2", "query122", 4, lambda v: v, _weights(*np.eye(4).tolist()), "return every v_i in row i"
        ),
        Question(
            "1.3.1",
            "query131",
            1,
            lambda v: v.mean(0, keepdim=True),
            _weights([0.25] * 4),
            "average all four values",
        ),
        Question(
            "1.3.2",
            "query132",
            1,
            lambda v: v[:2].mean(0, keepdim=True),
            _weights([0.5, 0.5, 0, 0]),
            "average v0 and v1",
        ),
        Question(
            "1.4.1",
            "key141",
            1,
            lambda v: v[:3].mean(0, keepdim=True),
            _weights([1 / 3, 1 / 3, 1 / 3, 0]),
            "average v0, v1 and v2",
        ),
        Question("1.4.2", "key142", 1, lambda v: v[2:3], _weights([0, 0, 1, 0]), "return v2"),
    )
}


def changed_key_rows(student_key: torch.Tensor, key: torch.Tensor, atol: float = 1e-3) -> list[int]:
    """Rows of a §1.4 key that differ from the grader's K (2-decimal values, so 1e-3 separates them)."""
    return [int(i) for i in torch.nonzero((student_key - key).abs().amax(dim=1) > atol).flatten()]
