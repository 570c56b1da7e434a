"""The grader's oracles: the §1 K, V and answer reading, and the §2.1 reference computations."""

import math

import numpy as np
import pytest
import torch
from check_files import CHECKS, import_check

from a2.sections.s1.oracle import (
    N_DIMS,
    Question,
    attention_output,
    changed_key_rows,
    grader_key_value,
)
from a2.sections.s2 import oracle
from a2.sections.s2.mha import reference_self_attention
from grader.comparison import NotAMatrix, as_matrix, max_abs_error

# The values the handout prints for K and V (contract.md): the grader must rebuild exactly these.
PRINTED_K = [[0.47, 0.65, 0.60], [0.64, 0.50, -0.59], [-0.03, -0.48, -0.88], [0.43, -0.83, 0.35]]
PRINTED_V = [[-0.07, -0.88, 0.47], [0.37, -0.93, -0.07], [-0.25, -0.75, 0.61], [0.94, 0.20, 0.28]]


def test_grader_key_value_match_the_handout():
    key, value = grader_key_value()
    assert torch.allclose(key, torch.tensor(PRINTED_K, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(value, torch.tensor(PRINTED_V, dtype=torch.float64), atol=1e-6)


def _model_answers(key: torch.Tensor) -> dict[str, torch.Tensor]:
    query132 = 10 * (key[0] + key[1])
    key141, key142 = key.clone(), key.clone()
    key141[2] = (key[0] + key[1]) / 2
    key142[2] = query132 / query132.norm()
    return {
        "1.2.1": (100 * key[0:1], key),
        "1.2.2": (100 * key, key),
        "1.3.1": (torch.zeros(1, 3, dtype=torch.float64), key),
        "1.3.2": (query132[None], key),
        "1.4.1": (query132[None], key141),
        "1.4.2": (query132[None], key142),
    }


#: The §1 questions, as their checks declare them.
QUESTIONS = {
    question.number: question
    for question in vars(import_check(CHECKS / "test_s1_public.py")).values()
    if isinstance(question, Question)
}


def test_every_question_has_a_model_answer():
    assert sorted(QUESTIONS) == sorted(_model_answers(grader_key_value()[0]))


@pytest.mark.parametrize("number", list(QUESTIONS))
def test_model_answers_meet_each_target_and_a_plain_key_row_does_not(number):
    key, value = grader_key_value()
    queries, used_key = _model_answers(key)[number]
    question = QUESTIONS[number]
    assert max_abs_error(attention_output(queries, used_key, value), question.target(value)) <= 0.05
    weak = key[3:4].expand(question.query_rows, 3)
    assert max_abs_error(attention_output(weak, used_key, value), question.target(value)) > 0.05


@pytest.mark.parametrize(
    "answer",
    [
        [0.1, 0.2, 0.3],
        [[0.1, 0.2, 0.3]],
        np.array([0.1, 0.2, 0.3]),
        torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64),
    ],
)
def test_as_matrix_accepts_the_shapes_and_types_students_use(answer):
    matrix = as_matrix(answer, "query121", 1, N_DIMS)
    assert matrix.dtype == torch.float64
    assert torch.allclose(matrix, torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64))


@pytest.mark.parametrize(
    ("answer", "rows", "message"),
    [
        ([float("nan"), 0, 0], 1, "NaN or infinity"),
        (np.array([math.inf, 0, 0]), 1, "NaN or infinity"),
        (torch.zeros(3, 4), 4, "has shape (3, 4); expected (4, 3)"),
        (torch.zeros(2, 3), 1, "expected (3,) or (1, 3)"),
        ("0, 0, 1", 1, "not numbers"),
        (None, 1, "not implemented yet"),
    ],
)
def test_as_matrix_rejects_bad_answers_with_a_reason(answer, rows, message):
    with pytest.raises(NotAMatrix, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_matrix(answer, "query", rows, N_DIMS)


def test_changed_key_rows_names_only_the_rows_that_moved():
    key, _ = grader_key_value()
    edited = key.clone()
    edited[2] = 0
    edited[0, 1] += 0.1
    assert changed_key_rows(edited, key) == [0, 2]
    assert changed_key_rows(key.float().double(), key) == []


def _attention_by_hand(q, k, v, n_heads, causal):
    """Per-batch, per-head loops: independent of both multi_head_attention_forward and the oracle."""
    b, n_tok, n_embd = q.shape
    d = n_embd // n_heads
    out = torch.zeros(b, n_tok, n_embd, dtype=torch.float64)
    for i in range(b):
        for h in range(n_heads):
            cols = slice(h * d, (h + 1) * d)
            scores = q[i, :, cols].double() @ k[i, :, cols].double().T / math.sqrt(d)
            if causal:
                scores = scores + torch.full_like(scores, -math.inf).triu(1)
            out[i, :, cols] = torch.softmax(scores, dim=-1) @ v[i, :, cols].double()
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("b", "n_tok", "n_embd", "n_heads"), [(1, 1, 4, 1), (2, 7, 12, 3), (3, 65, 16, 8)])
def test_reference_self_attention_matches_attention_by_hand(b, n_tok, n_embd, n_heads, causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, n_tok, n_embd, generator=g) for _ in range(3))
    got = reference_self_attention(q, k, v, n_heads, causal)
    assert torch.allclose(got, _attention_by_hand(q, k, v, n_heads, causal), atol=1e-10)


def test_causal_reference_ignores_later_tokens():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 9, 6, generator=g) for _ in range(3))
    changed = [t.clone() for t in (q, k, v)]
    for t in changed:
        t[:, 5:] = torch.randn(2, 4, 6, generator=g)
    before = reference_self_attention(q, k, v, 3, causal=True)
    after = reference_self_attention(*changed, 3, causal=True)
    assert torch.allclose(before[:, :5], after[:, :5], atol=1e-12)
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_helper_formulas_compose_into_the_reference():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 6, 12, generator=g) for _ in range(3))
    qh, kh, vh = (oracle.split_heads(t, 4) for t in (q, k, v))
    assert qh.shape == (2, 4, 6, 3)
    assert torch.equal(oracle.merge_heads(qh), q)
    a = oracle.attn_scaled(oracle.pairwise_similarities(qh, kh), 12, 4)
    a = oracle.apply_causal_mask(oracle.make_causal_mask(6), a)
    weights = oracle.attn_softmax(a)
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))
    got = oracle.merge_heads(oracle.compute_outputs(weights, vh))
    assert torch.allclose(got, reference_self_attention(q, k, v, 4, causal=True), atol=1e-12)
