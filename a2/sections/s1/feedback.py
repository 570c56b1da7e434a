"""Feedback for a §1 answer that misses: how far off it is, where, and the likely reason.

Everything printed is computed from the student's own answer (their attention weights and error);
the targets are the ones the handout states in words, so nothing hidden is revealed.
"""

import torch

from a2.sections.s1.oracle import Question, attention_output, attention_weights
from grader.comparison import max_abs_error

#: Factors tried to tell "right direction, too small" apart from "wrong direction".
_STRENGTHS = (10.0, 100.0, 1000.0)


def _fmt(row: torch.Tensor) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in row.tolist()) + "]"


def explain_query_failure(
    question: Question, queries: torch.Tensor, key: torch.Tensor, value: torch.Tensor, tolerance: float
) -> str:
    """A student-facing explanation of why ``queries`` (with ``key``) does not do what ``question`` asks."""
    target = question.target(value)
    weights = attention_weights(queries, key)
    error = max_abs_error(weights @ value, target)
    lines = [
        f"The attention output is off by up to {error:.3f} (allowed: {tolerance}); the task: {question.goal}."
    ]
    wanted = question.wanted_weights()
    row_errors = (weights @ value - target).abs().amax(dim=1)
    bad_rows = [i for i, e in enumerate(row_errors.tolist()) if e > tolerance]
    if queries.shape[0] == 1:
        lines.append(f"Your query's attention weights over v0..v3 are {_fmt(weights[0])}.")
    else:
        listed = "; ".join(f"row {i}: {_fmt(weights[i])}" for i in bad_rows)
        lines.append(f"Rows {bad_rows} of the attention weights are wrong ({listed}).")
    far = (weights - wanted).abs()[bad_rows or [0]]
    shared = [i for i, w in enumerate(wanted[0].tolist()) if 0 < w < 1]
    if queries.shape[0] == 1 and shared and float(weights[0, shared].max() - weights[0, shared].min()) > 0.05:
        names = ", ".join(f"v{i}" for i in shared)
        lines.append(
            f"The values to average ({names}) must get equal weights, so their keys need equal scores "
            "q · k_i; yours differ."
        )
    elif bool((far > 0.5).any()):
        lines.append("The weights go to the wrong values: check which keys your query lines up with.")
    else:
        for factor in _STRENGTHS:
            if max_abs_error(attention_output(queries * factor, key, value), target) <= tolerance:
                lines.append(
                    f"The weights lean the right way but are not sharp enough: a query {factor:g} times "
                    "as long would pass. Use a large number S."
                )
                break
    return " ".join(lines)
