"""The rule every verdict follows, and the check that a gradient from the student's process is real.

**Points are decided only from values the trusted process computed or verified itself. Nothing the
student's process says about itself is trusted: no report, flag, trace or measurement.**

Why: student code runs first in its own process, so it can replace anything else that runs there,
the grader's drivers, probes and recorders included, and make them report whatever it likes. What
it cannot do is make a wrong artefact right. So the student's process returns raw artefacts only
(tensors, token ids, trained weights, outputs on inputs the trusted side chose), and the trusted side
checks them against its own oracle:

- comparisons fail closed (``grader.comparison``): NaN, infinities, a wrong dtype or shape fail with
  a message, never pass;
- every reply meets a schema first (``grader.replies``); a malformed or oversized one fails the test
  that asked, in the student's words, never as "internal error";
- an answer is read once per run and kept (``StudentSection.get``); later checks use the copy;
- hidden tests draw their inputs from a secret chosen per run (``GradingSession.secret``), public
  ones keep the notebook's seed 447, and public and hidden tests never share a student process;
- where the student's process must observe something (which operators ran, how a training loop
  treated the model) the observation can only take points away, never grant them, and the
  operator recorder carries a canary the trusted side verifies (``grader.integrity``);
- what the student's process computes for a verdict is recomputed here: a model the student's
  function is part of runs in this process, calling that function; an accuracy is counted here, and
  a training step is judged by the weights it produces from weights and batches chosen here.

docs/verdicts.md says the same for staff, with what runs where for every test.
"""

from __future__ import annotations

from typing import Any

import torch

#: Step of the central differences that check a vector-Jacobian product.
FINITE_DIFFERENCE_STEP = 1e-2
#: Largest relative disagreement between the returned product and the finite differences.
GRADIENT_AGREEMENT = 5e-2
#: Below this (relative to the finite difference), no gradient reaches the inputs.
NO_GRADIENT = 1e-6


def directional_derivative(
    outputs_plus: torch.Tensor, outputs_minus: torch.Tensor, cotangent: torch.Tensor
) -> float:
    """⟨cotangent, (f(x + h d) − f(x − h d)) / 2h⟩: the product the gradient must reproduce."""
    difference = (outputs_plus.double() - outputs_minus.double()) / (2 * FINITE_DIFFERENCE_STEP)
    return float((cotangent.double() * difference).sum())


def gradient_problem(reply: Any, direction: tuple[torch.Tensor, ...], finite_difference: float) -> str | None:
    """What is wrong with the gradients a call with a cotangent returned, or None.

    ``finite_difference`` is ``directional_derivative`` of the student's own outputs along
    ``direction``; the returned gradients, dotted with the direction, must give the same number.
    """
    grads = reply.get("grads") if isinstance(reply, dict) else None
    if grads is None:
        return "none"
    if not isinstance(grads, list) or len(grads) != len(direction):
        return "malformed"
    if not all(
        isinstance(g, torch.Tensor) and g.shape == d.shape for g, d in zip(grads, direction, strict=True)
    ):
        return "malformed"
    product = float(sum((g.double() * d.double()).sum() for g, d in zip(grads, direction, strict=True)))
    scale = max(abs(finite_difference), 1e-3)
    if (
        not torch.isfinite(torch.tensor(product))
        or abs(product) <= NO_GRADIENT * scale
        and abs(finite_difference) > 1e-3
    ):
        return "none"
    if abs(product - finite_difference) > GRADIENT_AGREEMENT * scale:
        return "inconsistent"
    return None
