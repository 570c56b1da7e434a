"""§1 oracle: the grader's own K and V, unscaled attention, and what each question asks for.

The grader never trusts the K and V a submission carries (a student could edit them to make any query
look right), so it rebuilds them exactly as the notebook does: seed 447, ``randn(4, 3)`` for K then V,
each row normalised to unit length, rounded to two decimals.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from grader.comparison import max_abs_error
from grader.sandbox.wire import Opaque

SEED = 447
N_ROWS, N_DIMS = 4, 3
#: The row of K that §1.4 lets the student replace.
REPLACEABLE_KEY_ROW = 2


class AnswerRejected(ValueError):
    """A §1 answer that cannot be graded as it is (wrong type, shape, NaN or inf); the message says why."""


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


def as_matrix(answer: object, name: str, rows: int) -> torch.Tensor:
    """The student's answer as a float64 (rows, 3) tensor, or ``AnswerRejected`` saying what is wrong.

    Tensors, numpy arrays, nested lists/tuples of numbers and any float dtype are accepted; a single
    vector may be given as (3,) or (1, 3).
    """
    expected = "(3,) or (1, 3)" if rows == 1 else f"({rows}, 3)"
    if answer is None:
        raise AnswerRejected(f"{name} is None: it has not been answered yet (not implemented yet).")
    if isinstance(answer, Opaque) and answer.type_name == "ellipsis":
        raise AnswerRejected(f"{name} is still `...`: it has not been answered yet (not implemented yet).")
    try:
        if isinstance(answer, torch.Tensor):
            matrix = answer.detach().cpu().double()
        else:
            matrix = torch.as_tensor(np.asarray(answer, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError):
        raise AnswerRejected(
            f"{name} is a {answer.type_name if isinstance(answer, Opaque) else type(answer).__name__}, "
            "not numbers the grader can read; "
            f"give a tensor, numpy array or list of numbers of shape {expected}."
        ) from None
    if matrix.is_complex():
        raise AnswerRejected(f"{name} holds complex numbers; give real numbers of shape {expected}.")
    shape = tuple(matrix.shape)
    if rows == 1 and shape == (N_DIMS,):
        matrix = matrix.unsqueeze(0)
    if tuple(matrix.shape) != (rows, N_DIMS):
        raise AnswerRejected(f"{name} has shape {shape}; expected {expected}.")
    if not torch.isfinite(matrix).all():
        raise AnswerRejected(f"{name} contains NaN or infinity; every entry must be a finite number.")
    return matrix


def max_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """The assignment's error: the largest absolute element-wise difference (inf where NaN arises)."""
    return max_abs_error(got, want)


def changed_key_rows(student_key: torch.Tensor, key: torch.Tensor, atol: float = 1e-3) -> list[int]:
    """Rows of a §1.4 key that differ from the grader's K (2-decimal values, so 1e-3 separates them)."""
    return [int(i) for i in torch.nonzero((student_key - key).abs().amax(dim=1) > atol).flatten()]
