"""§2.1 hidden checks (A2S2): every helper on several shapes, self_attention on many, and the GPT.

Each helper's known bugs are declared right above its check, which hands them to the judging: a
wrong result that one of them reproduces is named with its fix.

Helpers are compared with their one-line formulas, self_attention with multi_head_attention_forward,
all within the table's ``attention`` tolerance. Shapes cover batch 1 and more, one token up to 65,
and 1 to 8 heads. When the run may use CUDA, the self_attention shape tests run there as well.
Every input is drawn from the run's secret (the ``hidden_seed`` fixture), so no table of precomputed
outputs can answer them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import torch

from a2.sections.s2 import oracle, small_gpt
from a2.sections.s2.hidden_cases import (
    MASKED_SHAPES,
    MERGE_SHAPES,
    OUTPUT_SHAPES,
    PAIRWISE_SHAPES,
    SHAPE_CASES,
    SPLIT_SETTINGS,
)
from a2.sections.s2.judging import (
    Case,
    Failure,
    call_from_scratch,
    check_self_attention_cases,
    helper_failure,
    helper_matches,
    judge,
    note_loops,
    on_devices,
    raise_failures,
    run_devices,
)
from a2.sections.s2.known_bugs import HelperBugs, KnownBug, merge_wrongly, split_wrongly
from grader.comparison import tensor_problem, within
from grader.errors import GradingFailure, StudentRaised
from grader.verdicts import FINITE_DIFFERENCE_STEP, directional_derivative, gradient_problem

if TYPE_CHECKING:
    from a2.records import A2Tolerances
    from grader.checks_api import Note, SectionAPI
    from grader.table import AssignmentTable

#: One call of a helper: its arguments, the oracle's result, and the call as the student reads it.
HelperCall = tuple[tuple[Any, ...], torch.Tensor, str]

NAN_LOSS = (
    "Training a small GPT with your init_qkv_proj and self_attention made the loss NaN or infinite: "
    "look for rows of attention weights that are all masked, or a division by zero."
)


def _randn(base: int, *shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    """Inputs drawn from the run's secret (``base``, the hidden_seed fixture) and a per-input offset."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(base + seed)) * scale


def _check_helper(
    a2s2: SectionAPI, name: str, calls: list[HelperCall], tolerance: float, note: Note, known_bugs: HelperBugs
) -> None:
    """Run ``name`` on every (args, expected, shown) call; fail with the first wrong one, naming the
    known bug that explains it."""
    note_loops(a2s2, name, note)
    failures = [
        failure
        for args, want, shown in calls
        if (failure := helper_failure(a2s2, name, args, want, tolerance, shown, known_bugs))
    ]
    raise_failures(failures, len(calls))


def pairwise_similarities_bugs(q: torch.Tensor, k: torch.Tensor) -> list[KnownBug]:
    return [
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
    ]


@pytest.mark.graded("2.1.1")
def test_pairwise_similarities(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    pairs = [
        (_randn(hidden_seed, *q, seed=2 * i + 1), _randn(hidden_seed, *k, seed=2 * i + 2))
        for i, (q, k) in enumerate(PAIRWISE_SHAPES)
    ]
    calls = [
        (
            (q, k),
            oracle.pairwise_similarities(q, k),
            f"Q of shape {tuple(q.shape)}, K of shape {tuple(k.shape)}",
        )
        for q, k in pairs
    ]
    try:
        _check_helper(
            a2s2, "pairwise_similarities", calls, tolerances.attention, note, pairwise_similarities_bugs
        )
    except StudentRaised as raised:
        args, want, shown = calls[0]
        first_ok = (
            helper_failure(
                a2s2,
                "pairwise_similarities",
                args,
                want,
                tolerances.attention,
                shown,
                pairwise_similarities_bugs,
            )
            is None
        )
        hint = (
            " It works on 3-D inputs but not with more leading dims: transpose the last two dims, "
            "K.transpose(-2, -1), not dims 1 and 2."
            if first_ok
            else ""
        )
        raise GradingFailure(f"{raised}{hint}") from None


def attn_scaled_bugs(a: torch.Tensor, n_embd: int, n_heads: int) -> list[KnownBug]:
    return [
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
    ]


@pytest.mark.graded("2.1.2")
def test_attn_scaled(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    settings = [((2, 3, 5, 5), 12, 3), ((1, 1, 4, 4), 8, 1), ((2, 8, 6, 6), 64, 8), ((3, 7, 7), 10, 2)]
    calls: list[HelperCall] = []
    for i, (shape, n_embd, n_heads) in enumerate(settings):
        a = _randn(hidden_seed, *shape, seed=10 + i)
        calls.append(
            ((a, n_embd, n_heads), oracle.attn_scaled(a, n_embd, n_heads), f"A, {n_embd}, {n_heads}")
        )
    _check_helper(a2s2, "attn_scaled", calls, tolerances.attention, note, attn_scaled_bugs)


def attn_softmax_bugs(a: torch.Tensor) -> list[KnownBug]:
    other_dims = [
        KnownBug(
            f"the softmax is taken over dim {dim} of {a.dim()} instead of the last",
            "Each row of weights (one query over all keys) must sum to 1: use dim=-1.",
            lambda a, dim=dim: torch.softmax(a.double(), dim=dim),
        )
        for dim in range(a.dim() - 1)
    ]
    return [
        *other_dims,
        KnownBug(
            "log_softmax was used instead of softmax",
            "The weights are probabilities: use torch.softmax(A, dim=-1).",
            lambda a: torch.log_softmax(a.double(), dim=-1),
        ),
        KnownBug("A is returned unchanged", "Apply a softmax over the last dim.", lambda a: a.double()),
    ]


@pytest.mark.graded("2.1.3")
def test_attn_softmax(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    shapes = [(2, 3, 5, 5), (4, 6, 6), (1, 1, 1, 1), (2, 2, 3, 9)]
    inputs = [_randn(hidden_seed, *shape, seed=20 + i, scale=3.0) for i, shape in enumerate(shapes)]
    calls = [((a,), oracle.attn_softmax(a), f"A of shape {tuple(a.shape)}") for a in inputs]
    _check_helper(a2s2, "attn_softmax", calls, tolerances.attention, note, attn_softmax_bugs)


def compute_outputs_bugs(a: torch.Tensor, v: torch.Tensor) -> list[KnownBug]:
    return [
        KnownBug(
            "the attention matrix is transposed before multiplying",
            "Each output row is a weighted sum of value rows: compute A @ V.",
            lambda a, v: a.double().transpose(-2, -1) @ v.double(),
        ),
    ]


@pytest.mark.graded("2.1.4")
def test_compute_outputs(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    calls: list[HelperCall] = []
    for i, (a_shape, v_shape) in enumerate(OUTPUT_SHAPES):
        a, v = (
            torch.softmax(_randn(hidden_seed, *a_shape, seed=30 + i), dim=-1),
            _randn(hidden_seed, *v_shape, seed=40 + i),
        )
        calls.append(
            (
                (a, v),
                oracle.compute_outputs(a, v),
                f"A of shape {tuple(a.shape)}, V of shape {tuple(v.shape)}",
            )
        )
    _check_helper(a2s2, "compute_outputs", calls, tolerances.attention, note, compute_outputs_bugs)


def _causal_mask_failure(a2s2: SectionAPI, n_tok: int) -> Failure | None:
    """Judge the student's make_causal_mask(n_tok) against the oracle's mask."""
    return judge(
        f"make_causal_mask({n_tok})",
        call_from_scratch(a2s2, "make_causal_mask", (n_tok,)),
        oracle.make_causal_mask(n_tok),
        0.0,
        lambda wrong: helper_matches(make_causal_mask_bugs, wrong, (n_tok,)),
    )


def make_causal_mask_bugs(n_tok: int) -> list[KnownBug]:
    return [
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
    ]


@pytest.mark.graded("2.1.5")
def test_make_causal_mask(a2s2: SectionAPI, note: Note) -> None:
    note_loops(a2s2, "make_causal_mask", note)
    failures = [_causal_mask_failure(a2s2, n_tok) for n_tok in (4, 10, 65, 1)]
    raise_failures([failure for failure in failures if failure], len(failures))


def _student_mask_dtype(a2s2: SectionAPI) -> torch.dtype:
    """The dtype the student's own make_causal_mask returns, when it returns a right mask; else bool.

    apply_causal_mask is given a mask in that dtype, so it is judged with the masks it was written for.
    """
    try:
        mask = a2s2.call("make_causal_mask", (3,))
    except GradingFailure:
        return torch.bool
    if isinstance(mask, torch.Tensor) and tensor_problem(mask, oracle.make_causal_mask(3), 0.0) is None:
        return mask.dtype
    return torch.bool


def apply_causal_mask_bugs(mask: torch.Tensor, a: torch.Tensor) -> list[KnownBug]:
    return [
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
    ]


@pytest.mark.graded("2.1.6")
def test_apply_causal_mask(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    """Allowed scores unchanged; forbidden ones -inf or negative enough that the softmax gives them 0."""
    note_loops(a2s2, "apply_causal_mask", note)
    dtype = _student_mask_dtype(a2s2)
    failures: list[Failure] = []
    for i, shape in enumerate(MASKED_SHAPES):
        a = _randn(hidden_seed, *shape, seed=50 + i)
        mask = oracle.make_causal_mask(shape[-1]).to(dtype)
        want = oracle.apply_causal_mask(mask, a)

        def attempt(
            device: str | None, mask: torch.Tensor = mask, a: torch.Tensor = a, want: torch.Tensor = want
        ) -> Failure | None:
            got = call_from_scratch(a2s2, "apply_causal_mask", (mask, a), device=device)
            failure = judge(
                f"apply_causal_mask(mask, A of shape {tuple(a.shape)})",
                got,
                want,
                tolerances.attention,
                lambda wrong: helper_matches(apply_causal_mask_bugs, wrong, (mask, a)),
            )
            return None if failure and _masks_like_minus_inf(got, a, want, tolerances.attention) else failure

        failure = on_devices(attempt, run_devices(a2s2))
        if failure:
            failures.append(failure)
    raise_failures(failures, 4)


def _masks_like_minus_inf(got: Any, a: torch.Tensor, want: torch.Tensor, tolerance: float) -> bool:
    """A large negative number instead of -inf is right when it leaves the softmax unchanged."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    allowed = oracle.make_causal_mask(a.shape[-1]).expand(a.shape)
    kept = bool((got.double() - a.double()).abs()[allowed].max() <= tolerance)
    return (
        kept and tensor_problem(torch.softmax(got.double(), -1), oracle.attn_softmax(want), tolerance) is None
    )


def split_heads_bugs(x: torch.Tensor, n_heads: int) -> list[KnownBug]:
    return [
        KnownBug(
            "split_heads uses a single reshape, without a transpose",
            "Reshape to (B, n_tok, n_heads, d) first, then transpose dims 1 and 2.",
            lambda x, n_heads: split_wrongly(x.double(), n_heads, "reshape"),
        ),
        KnownBug(
            "the heads take interleaved features",
            "Reshape to (B, n_tok, n_heads, d), not (B, n_tok, d, n_heads), before transposing.",
            lambda x, n_heads: split_wrongly(x.double(), n_heads, "interleaved"),
        ),
        KnownBug(
            "the transpose is missing: heads come after the tokens",
            "After reshaping to (B, n_tok, n_heads, d), "
            "transpose dims 1 and 2 to get (B, n_heads, n_tok, d).",
            lambda x, n_heads: x.double().reshape(x.shape[0], x.shape[1], n_heads, -1),
        ),
    ]


@pytest.mark.graded("2.1.7")
def test_split_heads(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    calls: list[HelperCall] = []
    for i, (shape, n_heads) in enumerate(SPLIT_SETTINGS):
        x = _randn(hidden_seed, *shape, seed=60 + i)
        calls.append(
            ((x, n_heads), oracle.split_heads(x, n_heads), f"x of shape {tuple(x.shape)}, {n_heads}")
        )
    _check_helper(a2s2, "split_heads", calls, tolerances.attention, note, split_heads_bugs)


def merge_heads_bugs(y: torch.Tensor) -> list[KnownBug]:
    return [
        KnownBug(
            "merge_heads is not the inverse of split_heads (a single reshape, no transpose)",
            "Transpose (B, n_heads, n_tok, d) to (B, n_tok, n_heads, d) first, "
            "then reshape to (B, n_tok, n_embd).",
            lambda y: merge_wrongly(y.double(), "reshape"),
        ),
        KnownBug(
            "merge_heads interleaves the heads' features",
            "Head h's features go to columns h*d .. (h+1)*d - 1: transpose to (B, n_tok, n_heads, d), "
            "then reshape.",
            lambda y: merge_wrongly(y.double(), "interleaved"),
        ),
    ]


@pytest.mark.graded("2.1.8")
def test_merge_heads(a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int) -> None:
    inputs = [_randn(hidden_seed, *shape, seed=70 + i) for i, shape in enumerate(MERGE_SHAPES)]
    calls = [((y,), oracle.merge_heads(y), f"y of shape {tuple(y.shape)}") for y in inputs]
    _check_helper(a2s2, "merge_heads", calls, tolerances.attention, note, merge_heads_bugs)


def _shape_test(
    a2s2: SectionAPI, causal: bool, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    note_loops(a2s2, "self_attention", note)
    cases = [Case(*sizes, causal=causal) for sizes in SHAPE_CASES]
    check_self_attention_cases(a2s2, cases, tolerances.attention, hidden_seed, run_devices(a2s2))


@pytest.mark.graded("2.1.12")
def test_self_attention_shapes_no_mask(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    _shape_test(a2s2, False, tolerances, note, hidden_seed)


@pytest.mark.graded("2.1.13")
def test_self_attention_shapes_causal(
    a2s2: SectionAPI, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    _shape_test(a2s2, True, tolerances, note, hidden_seed)


def _remote_attention(a2s2: SectionAPI) -> Callable[..., torch.Tensor]:
    """An attention for this process's GPT that sends its inputs to the student's self_attention."""

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, causal: bool) -> torch.Tensor:
        got = call_from_scratch(a2s2, "self_attention", (q, k, v), {"n_heads": n_heads, "causal": causal})
        problem = tensor_problem(got, q, math.inf, dtype=q.dtype)
        if problem is not None and "NaN" not in problem and "infinite" not in problem:
            raise GradingFailure(f"In the small GPT, self_attention {problem}.")
        return got.float() if isinstance(got, torch.Tensor) else got

    return attend


def _check_gradient(a2s2: SectionAPI, seed: int) -> None:
    """The student's own vector-Jacobian product, checked against finite differences of its outputs."""
    (q, k, v), cotangent, direction = small_gpt.gradient_probe(seed)
    n_heads = small_gpt.SIZES["n_head"]
    # Recorded like every other call: the backward pass runs inside the recorder too.
    reply = call_from_scratch(
        a2s2, "self_attention", (q, k, v), {"n_heads": n_heads, "causal": True}, cotangent=cotangent
    )
    step = FINITE_DIFFERENCE_STEP
    shifted = [
        call_from_scratch(
            a2s2,
            "self_attention",
            tuple(x + sign * step * d for x, d in zip((q, k, v), direction, strict=True)),
            {"n_heads": n_heads, "causal": True},
        )
        for sign in (1, -1)
    ]
    if not all(isinstance(out, torch.Tensor) and out.shape == q.shape for out in shifted):
        raise GradingFailure("self_attention did not return a tensor of its input's shape in the small GPT.")
    plus, minus = shifted
    problem = gradient_problem(reply, direction, directional_derivative(plus, minus, cotangent))
    if problem in ("none", "malformed"):
        raise GradingFailure(
            "No gradient reaches W_Q, W_K and W_V when the GPT trains, so the attention cannot learn. "
            "Something in self_attention cuts the autograd graph: .detach(), .data, .item(), numpy, "
            "torch.no_grad() or building a new tensor from the values."
        )
    if problem == "inconsistent":
        raise GradingFailure(
            "The gradient of self_attention does not match how its outputs change, so training follows "
            "the wrong direction: part of the computation is cut from the autograd graph (.detach(), "
            ".data, numpy, or a tensor rebuilt from values)."
        )


@pytest.mark.graded("2.1.14")
def test_attention_trains_gpt(
    a2s2: SectionAPI, table: AssignmentTable, tolerances: A2Tolerances, note: Note, hidden_seed: int
) -> None:
    training = small_gpt.plan(hidden_seed)
    timeout = table.test("2.1.14").timeout - 60
    try:
        reply = a2s2.run(
            "a2.sections.s2.drivers.gpt_training:train",
            training.driver_params(),
            timeout=timeout,
            uses=("init_qkv_proj", "self_attention"),
        )
    except StudentRaised as raised:
        raise GradingFailure(
            f"Training a small GPT with your init_qkv_proj and self_attention failed: {raised}"
        ) from None
    attend = _remote_attention(a2s2)
    try:
        trained = small_gpt.model_with(
            training, reply.get("weights") if isinstance(reply, dict) else None, attend
        )
    except small_gpt.WeightsRejected as rejected:
        if str(rejected) == "nan":
            raise GradingFailure(NAN_LOSS) from None
        raise GradingFailure(f"Training the small GPT with your attention went wrong: {rejected}.") from None
    _check_gradient(a2s2, hidden_seed)
    before = small_gpt.held_out_loss(
        small_gpt.model_with(training, training.initial_weights, attend), training
    )
    after = small_gpt.held_out_loss(trained, training)
    if not (math.isfinite(before) and math.isfinite(after)):
        raise GradingFailure(NAN_LOSS)
    if not within(small_gpt.padding_leak(trained, training), tolerances.gpt_padding_leak):
        raise GradingFailure(
            "In the GPT, a token's prediction changes when padding is appended after it, so tokens see "
            "positions that come later. With causal=True, each token may attend only to itself and earlier "
            "tokens: a lower-triangular mask applied before the softmax."
        )
    least = tolerances.gpt_loss_drop
    steps = small_gpt.STEPS
    if not within(least, before - after):
        raise GradingFailure(
            f"A small GPT trained with your attention for {steps} steps lowered its held-out loss from "
            f"{before:.2f} to {after:.2f}; a correct attention lowers it by at least {least:g}."
        )
    note(f"Held-out loss of the small GPT: {before:.2f} before training, {after:.2f} after {steps} steps.")
