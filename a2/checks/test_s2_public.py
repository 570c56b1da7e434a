"""§2.1 public checks (A2S2): the notebook's own three comparisons with multi_head_attention_forward.

As in the notebook, one input of shape (1, 10, 6) drawn with seed 447 serves as Q, K and V: one head
without a mask, one head causal, three heads causal. Each is then repeated on a second input of the
same kind drawn anew for the run, so that outputs typed in for the notebook's own input (a lookup,
not attention) pass nothing. When the run may use CUDA, each is repeated on the GPU. (The hidden
checks use distinct Q, K and V, which catch more bugs.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from a2.sections.s2.judging import (
    Case,
    check_self_attention_cases,
    note_loops,
    run_devices,
)

if TYPE_CHECKING:
    from a2.records import A2Tolerances
    from grader.checks_api import Note, SectionAPI

NOTEBOOK_SEED = 447


def _notebook_test(
    a2s2: SectionAPI, case: Case, tolerances: A2Tolerances, note: Note, fresh_seed: int
) -> None:
    note_loops(a2s2, "self_attention", note)
    for seed in (NOTEBOOK_SEED, fresh_seed):
        check_self_attention_cases(a2s2, [case], tolerances.attention, seed, run_devices(a2s2))


@pytest.mark.graded("2.1.9")
def test_notebook_one_head_no_mask(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    _notebook_test(a2s2, Case(1, 10, 6, 1, causal=False, shared_input=True), tolerances, note, hidden_seed)


@pytest.mark.graded("2.1.10")
def test_notebook_one_head_causal(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    _notebook_test(a2s2, Case(1, 10, 6, 1, causal=True, shared_input=True), tolerances, note, hidden_seed)


@pytest.mark.graded("2.1.11")
def test_notebook_three_heads_causal(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    _notebook_test(a2s2, Case(1, 10, 6, 3, causal=True, shared_input=True), tolerances, note, hidden_seed)
