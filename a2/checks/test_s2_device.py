"""§2.1 device portability (A2S2): attention must make its tensors on the device of its inputs.

The handout says so ("make masks on the device of the scores"). On a CPU run, and in the students'
checker, self_attention runs once with its inputs on the `meta` device
(a2/sections/s2/drivers/device_probe.py): a mask made on a fixed device then fails as it would on
a GPU, and the student gets an ungraded note before the GPU run. On a GPU run the check is graded:
self_attention runs on CUDA inputs and its result is compared with the reference in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from a2.sections.s2.judging import Case, check_self_attention_cases
from grader.errors import GradingFailure, NotImplementedYet

if TYPE_CHECKING:
    from a2.records import A2Tolerances
    from grader.checks_api import Note, SectionAPI

PROBE = "a2.sections.s2.drivers.device_probe:probe"
CASE = Case(2, 5, 8, 2, causal=True)
SEED = 2115
NOTE = (
    "self_attention would fail on a GPU: with its inputs on another device than the CPU it raised "
    '"{problem}". Make the mask on the device of the scores (for example `mask.to(A.device)` or '
    "`device=A.device`). Not graded on this CPU run; the GPU run grades it."
)


def _meta_problem(a2s2: SectionAPI) -> str:
    if not a2s2.has("self_attention"):
        return ""
    params = {"batch": CASE.batch, "n_tok": CASE.n_tok, "n_embd": CASE.n_embd, "n_heads": CASE.n_heads}
    try:
        found = a2s2.run(PROBE, params, uses=("self_attention",))
    except NotImplementedYet:
        raise
    except GradingFailure:
        return ""
    return str(found.get("problem", "")) if isinstance(found, dict) else ""


@pytest.mark.graded("2.1.15")
def test_attention_keeps_its_tensors_on_the_inputs_device(
    a2s2: SectionAPI, tolerances: A2Tolerances, cuda_available: bool, note: Note
) -> None:
    problem = _meta_problem(a2s2)
    if not cuda_available:
        if problem:
            note(NOTE.format(problem=problem))
        return
    try:
        check_self_attention_cases(a2s2, [CASE], tolerances.attention, SEED, ["cuda"])
    except GradingFailure as failure:
        hint = f' With its inputs on another device it raised "{problem}".' if problem else ""
        raise GradingFailure(f"{failure}{hint}") from None
