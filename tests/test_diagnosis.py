"""Known-bug diagnosis, §1 feedback and the wording of tensor mismatches."""

import pytest
import torch
from check_files import CHECKS, import_check

from a2.sections.s1.feedback import explain_query_failure
from a2.sections.s1.oracle import grader_key_value
from a2.sections.s2 import oracle
from a2.sections.s2.judging import Failure, helper_matches, raise_failures
from a2.sections.s2.known_bugs import SELF_ATTENTION_BUGS, KnownBug, diagnose_self_attention
from a2.sections.s2.mha import reference_self_attention
from grader.comparison import tensor_problem
from grader.errors import GradingFailure


def _qkv(b=2, n_tok=7, n_embd=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, n_tok, n_embd, generator=g) for _ in range(3))


@pytest.mark.parametrize("bug", SELF_ATTENTION_BUGS, ids=lambda bug: bug.name)
def test_each_self_attention_bug_is_named_from_its_own_output(bug):
    q, k, v = _qkv()
    causal = "even when causal=False" not in bug.name
    buggy = bug.produce(q, k, v, 3, causal).float()
    assert diagnose_self_attention(buggy, q, k, v, 3, causal) is bug


@pytest.mark.parametrize("causal", [False, True])
def test_a_right_or_unrelated_output_names_no_bug(causal):
    q, k, v = _qkv()
    right = reference_self_attention(q, k, v, 3, causal).float()
    assert diagnose_self_attention(right + 0.3, q, k, v, 3, causal) is None
    assert diagnose_self_attention(torch.zeros_like(right), q, k, v, 3, causal) is None


_HELPER_ARGS = {
    "pairwise_similarities": lambda: (torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)),
    "attn_scaled": lambda: (torch.randn(2, 3, 5, 5), 12, 3),
    "attn_softmax": lambda: (torch.randn(2, 3, 5, 5),),
    "compute_outputs": lambda: (torch.softmax(torch.randn(2, 3, 5, 5), -1), torch.randn(2, 3, 5, 4)),
    "make_causal_mask": lambda: (6,),
    "apply_causal_mask": lambda: (oracle.make_causal_mask(5), torch.randn(2, 3, 5, 5)),
    "split_heads": lambda: (torch.randn(2, 5, 12), 3),
    "merge_heads": lambda: (torch.randn(2, 3, 5, 4),),
}


S1_CHECKS = import_check(CHECKS / "test_s1_public.py")
S2_HIDDEN = import_check(CHECKS / "test_s2_hidden.py")


def _known_bugs(helper):
    """The known bugs the helper's check declares beside it."""
    return getattr(S2_HIDDEN, f"{helper}_bugs")


@pytest.mark.parametrize(
    ("helper", "index"),
    [(name, i) for name, args in _HELPER_ARGS.items() for i in range(len(_known_bugs(name)(*args())))],
)
def test_each_helper_bug_is_named_from_its_own_output(helper, index):
    torch.manual_seed(index)
    args = _HELPER_ARGS[helper]()
    bug = _known_bugs(helper)(*args)[index]
    found = helper_matches(_known_bugs(helper), bug.produce(*args).float(), args)
    assert found and found[0].name == bug.name


def test_every_helper_check_declares_its_known_bugs():
    declared = {name.removesuffix("_bugs") for name in vars(S2_HIDDEN) if name.endswith("_bugs")}
    assert declared == set(_HELPER_ARGS)


def test_query_feedback_tells_weak_unbalanced_and_misdirected_queries_apart():
    key, value = grader_key_value()
    weak = explain_query_failure(S1_CHECKS.SELECT_V0, key[0:1], key, value, 0.05)
    assert "not sharp enough" in weak and "[0.51, 0.25, 0.08, 0.16]" in weak
    unbalanced = explain_query_failure(
        S1_CHECKS.AVERAGE_FIRST_TWO, 10 * key[0:1] + 8 * key[1:2], key, value, 0.05
    )
    assert "equal weights" in unbalanced
    wrong = explain_query_failure(S1_CHECKS.EVERY_VALUE, 100 * key.flip(0), key, value, 0.05)
    assert "Rows [0, 1, 2, 3]" in wrong and "wrong values" in wrong


def test_tensor_problem_describes_shape_dtype_nan_and_where_values_differ():
    want = torch.zeros(2, 3)
    assert "returned shape (3, 2); expected (2, 3)" in tensor_problem(torch.zeros(3, 2), want, 1e-5)
    assert "float64 for torch.float32" in tensor_problem(want.double(), want, 1e-5, dtype=torch.float32)
    assert "returned a list" in tensor_problem([0.0], want, 1e-5)
    assert "NaN at 1 of 6" in tensor_problem(torch.tensor([[0, 0, 0], [0, float("nan"), 0]]), want, 1e-5)
    off = want.clone()
    off[1, 2] = 0.5
    assert "at 1 of 6 entries, by up to 0.5 (at index (1, 2)" in tensor_problem(off, want, 1e-5)
    assert tensor_problem(want + 1e-6, want, 1e-5) is None
    minus_inf = torch.full((2, 2), float("-inf"))
    assert tensor_problem(minus_inf, minus_inf, 1e-5) is None


def test_a_known_bug_is_named_only_when_it_reproduces_the_failure_the_message_shows():
    mask_after = KnownBug("mask after softmax", "the mask is applied after the softmax", lambda: None)
    unexplained = Failure("self_attention(A)", "differs from the expected result", [])
    explained = Failure("self_attention(B)", "differs from the expected result", [mask_after])
    with pytest.raises(GradingFailure) as error:
        raise_failures([unexplained, explained], 2)
    assert "self_attention(A)" in str(error.value) and "after the softmax" not in str(error.value)
    with pytest.raises(GradingFailure) as error:
        raise_failures([explained, unexplained], 2)
    assert "self_attention(B)" in str(error.value) and "after the softmax" in str(error.value)


def test_a_helper_without_known_bugs_matches_none_and_fails_plainly() -> None:
    q = torch.randn(2, 3, 4)
    assert helper_matches(None, q, (q, q)) == []
    with pytest.raises(GradingFailure) as error:
        raise_failures([Failure("a_helper_added_later(Q, K)", "differs from the expected result", [])], 1)
    assert str(error.value) == "a_helper_added_later(Q, K) differs from the expected result."
