"""When a student's wrong result counts as "the same values" as a candidate (a known bug's output)."""

import torch

#: How close a student's output must be to a bug's output to name that bug (looser than the pass
#: tolerance: a buggy float32 result still carries the student's own rounding).
MATCH_ATOL = 1e-4


def matches(got: torch.Tensor, candidate: torch.Tensor) -> bool:
    """Same shape and the same values (NaN where the bug gives NaN)."""
    if tuple(got.shape) != tuple(candidate.shape):
        return False
    return bool(
        torch.allclose(got.double(), candidate.double(), atol=MATCH_ATOL, rtol=MATCH_ATOL, equal_nan=True)
    )
