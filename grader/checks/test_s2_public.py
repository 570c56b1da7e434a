"""§2.1 public checks (A2S2): the notebook's own three comparisons with multi_head_attention_forward.

As in the notebook, one input of shape (1, 10, 6) drawn with seed 447 serves as Q, K and V: one head
without a mask, one head causal, three heads causal. When the run may use CUDA, each is repeated on
the GPU. (The hidden checks use distinct Q, K and V, which catch more bugs.)
"""

import pytest

from grader.sections.s2.judging import (
    Case,
    check_self_attention_cases,
    note_loops,
    run_devices,
)

NOTEBOOK_SEED = 447


def _notebook_test(a2s2, case: Case, tolerances, note) -> None:
    note_loops(a2s2, "self_attention", note)
    check_self_attention_cases(a2s2, [case], tolerances.attention, NOTEBOOK_SEED, run_devices(a2s2))


@pytest.mark.graded("2.1.9")
def test_notebook_one_head_no_mask(a2s2, tolerances, note):
    _notebook_test(a2s2, Case(1, 10, 6, 1, causal=False, shared_input=True), tolerances, note)


@pytest.mark.graded("2.1.10")
def test_notebook_one_head_causal(a2s2, tolerances, note):
    _notebook_test(a2s2, Case(1, 10, 6, 1, causal=True, shared_input=True), tolerances, note)


@pytest.mark.graded("2.1.11")
def test_notebook_three_heads_causal(a2s2, tolerances, note):
    _notebook_test(a2s2, Case(1, 10, 6, 3, causal=True, shared_input=True), tolerances, note)
