"""Small graded checks used by the project's tests to exercise the grader core on hostile code.

They use §1's rows of the table: 1.2.1 reads a value, 1.2.2 calls `answer()` (the function hostile
submissions misbehave in), 1.3.1 calls `other()`, which must stay unaffected.
"""

import pytest
import torch

from grader.errors import GradingFailure


@pytest.mark.graded("1.2.1")
def test_value(a2s1):
    value = a2s1.get("query121")
    if not (torch.is_tensor(value) and value.shape == (3,)):
        raise GradingFailure(f"query121 should be a tensor of shape (3,), got {type(value).__name__}")


@pytest.mark.graded("1.2.2")
def test_answer(a2s1):
    got = a2s1.call("answer", timeout=5)
    assert torch.allclose(torch.as_tensor(got, dtype=torch.float32), torch.full((3,), 42.0)), (
        "answer() should return three 42s"
    )


@pytest.mark.graded("1.3.1")
def test_other(a2s1):
    assert a2s1.call("other") == "fine", "other() should return 'fine'"
