"""The parts a grading session is made of, each on its own: the seeds of a run (grader/run_seeds.py),
the rules of a section's answers (grader/answer_rules.py) and the children's access
(grader/sandbox/child_access.py). The whole session is exercised by every corpus; these pin each
part's own promise."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from a2.sections.s2.allowlist import FROM_SCRATCH
from grader.answer_rules import AnswerRules
from grader.errors import GradingFailure
from grader.intake.normalise import Normalised
from grader.intake.slicer import slice_source
from grader.integrity import IntegrityLog
from grader.run_seeds import RunSeeds
from grader.sandbox.child_access import ChildAccess, driver_reply_bound
from grader.sandbox.process import SandboxLimits

ANSWERS = ("softmax", "attention")


def test_a_hidden_seed_depends_on_the_secret_the_test_and_the_purpose() -> None:
    seeds, other = RunSeeds(447), RunSeeds(448)
    drawn = {seeds.hidden(test, purpose) for test in ("4.2.1", "4.2.2") for purpose in ("", "inputs")}
    assert len(drawn) == 4
    assert seeds.hidden("4.2.1", "inputs") == RunSeeds(447).hidden("4.2.1", "inputs")
    assert seeds.hidden("4.2.1", "inputs") != other.hidden("4.2.1", "inputs")


def test_the_student_process_seed_is_fixed_for_public_tests_and_secret_for_hidden_ones() -> None:
    assert RunSeeds(1).student_process("4.2.1", "public") == RunSeeds(2).student_process("4.2.1", "public")
    hidden = RunSeeds(1).student_process("4.2.1", "hidden")
    assert hidden != RunSeeds(2).student_process("4.2.1", "hidden")
    # Not the seed the check draws the test's inputs from: the student's RNG state tells nothing of them.
    assert hidden != RunSeeds(1).hidden("4.2.1") and hidden == RunSeeds(1).hidden("4.2.1", "student process")


def _rules(source: str, integrity: IntegrityLog) -> AnswerRules:
    text = textwrap.dedent(source)
    return AnswerRules(9, Normalised(text, "HW9.py"), slice_source(text, ANSWERS), FROM_SCRATCH, integrity)


def test_only_what_an_answer_reaches_is_judged() -> None:
    integrity = IntegrityLog()
    rules = _rules(
        """
        import torch
        import torch.nn.functional as F

        def softmax(A):
            return torch.exp(A) / torch.exp(A).sum(-1, keepdim=True)

        def attention(Q, K, V):
            return F.scaled_dot_product_attention(Q, K, V)

        def show():
            print(globals())
        """,
        integrity,
    )
    assert rules.problem("softmax") is None
    problem = rules.problem("attention")
    assert problem is not None and "scaled_dot_product_attention" in problem and "HW9.py" in problem
    with pytest.raises(GradingFailure, match="scaled_dot_product_attention"):
        rules.require(["softmax", "attention"])
    assert [flag.kind for flag in integrity.flags] == ["rule"]
    assert any("no answer reaches" in note.what for note in integrity.notes)


def test_a_forging_construct_an_answer_reaches_fails_that_answer_alone() -> None:
    integrity = IntegrityLog()
    rules = _rules(
        """
        import sys

        def softmax(A):
            sys.modules["torch"].testing = None
            return A

        def attention(Q, K, V):
            return Q
        """,
        integrity,
    )
    assert rules.problem("attention") is None
    assert "sys.modules" in (rules.problem("softmax") or "")


def test_a_driver_reply_is_bounded_by_the_model_s_weights_and_the_table(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\0" * 1000)
    (model / "config.json").write_text("{}")
    assert driver_reply_bound(model, answer_bytes=500, table_bytes=10_000) == 500 + 2 * 1000
    assert driver_reply_bound(model, answer_bytes=500, table_bytes=1_200) == 1_200
    assert driver_reply_bound(None, answer_bytes=500, table_bytes=10_000) == 10_000


@pytest.mark.skipif(os.geteuid() != 0, reason="the checks are closed to others only as root")
def test_as_root_the_protected_paths_are_closed_to_others(tmp_path: Path) -> None:
    checks = tmp_path / "checks"
    checks.mkdir(mode=0o755)
    ChildAccess("auto", SandboxLimits()).protect([checks, tmp_path / "absent"])
    assert stat.S_IMODE(checks.stat().st_mode) == 0o700
