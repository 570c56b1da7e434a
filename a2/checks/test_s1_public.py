"""§1 query crafting (A2S1), all public: each answer against the grader's own K and V.

1.2.x and 1.3.x take the student's query; 1.4.x take the student's modified key together with their
own ``query132`` (the question says the query stays unchanged), and may change only row 2 of K.

Each question is declared once, right above its check: its number (which the check's ``graded`` mark
reads from it), its answer's name, the output it must produce and the weights that produce it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

from a2.sections.s1.feedback import explain_query_failure
from a2.sections.s1.oracle import (
    N_DIMS,
    N_ROWS,
    REPLACEABLE_KEY_ROW,
    Question,
    attention_output,
    changed_key_rows,
    grader_key_value,
    weights,
)
from grader.comparison import NotAMatrix, as_matrix, max_abs_error, within
from grader.errors import GradingFailure, NotAnswered
from grader.sandbox.wire import Opaque

if TYPE_CHECKING:
    from a2.records import A2Tolerances
    from grader.checks_api import Note, SectionAPI


def _answer(section: SectionAPI, name: str, rows: int) -> torch.Tensor:
    value = section.get(name)
    if isinstance(value, Opaque):
        if value.type_name == "ellipsis":
            raise NotAnswered(name)
        raise GradingFailure(f"{name} is a {value.type_name}; give a tensor, numpy array or list of numbers.")
    try:
        return as_matrix(value, name, rows, N_DIMS)
    except NotAMatrix as rejected:
        raise GradingFailure(str(rejected)) from None


def _check_output(
    question: Question, queries: torch.Tensor, key: torch.Tensor, tolerance: float, note: Note
) -> None:
    _, value = grader_key_value()
    output = attention_output(queries, key, value)
    if not bool(torch.isfinite(output).all()):
        raise GradingFailure(
            f"With your answer the scores q · k are so large that the softmax overflows and the attention "
            f"output is NaN; the task: {question.goal}. A large number S such as 100 is enough."
        )
    error = max_abs_error(output, question.target(value))
    if not within(error, tolerance):
        raise GradingFailure(explain_query_failure(question, queries, key, value, tolerance))
    note(f"Error {error:.4f} (allowed: {tolerance}).")


def check_query(a2s1: SectionAPI, question: Question, tolerances: A2Tolerances, note: Note) -> None:
    """Grade the student's answer to a query question: its attention output against the target."""
    key, _ = grader_key_value()
    queries = _answer(a2s1, question.name, question.query_rows)
    _check_output(question, queries, key, tolerances.query_error, note)


def _student_key(a2s1: SectionAPI, question: Question) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's §1.4 key (only row 2 may differ from K) and their unchanged query132."""
    name = question.name
    student_key = _answer(a2s1, name, N_ROWS)
    key, _ = grader_key_value()
    others = [row for row in changed_key_rows(student_key, key) if row != REPLACEABLE_KEY_ROW]
    if others:
        raise GradingFailure(
            f"{name} differs from K in row(s) {others}; only the third key vector k2 (row 2) may change."
        )
    try:
        query = _answer(a2s1, "query132", 1)
    except GradingFailure as missing:
        raise GradingFailure(
            f"{question.number} uses your query132 unchanged, which cannot be used: {missing}"
        ) from None
    return student_key, query


SELECT_V0 = Question("1.2.1", "query121", 1, lambda v: v[0:1], weights([1, 0, 0, 0]), "select v0")


@pytest.mark.graded(SELECT_V0.number)
def test_query121_selects_v0(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    check_query(a2s1, SELECT_V0, tolerances, note)


EVERY_VALUE = Question(
    "1.2.2", "query122", 4, lambda v: v, weights(*torch.eye(4).tolist()), "return every v_i in row i"
)


@pytest.mark.graded(EVERY_VALUE.number)
def test_query122_identity(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    check_query(a2s1, EVERY_VALUE, tolerances, note)


AVERAGE_ALL = Question(
    "1.3.1", "query131", 1, lambda v: v.mean(0, keepdim=True), weights([0.25] * 4), "average all four values"
)


@pytest.mark.graded(AVERAGE_ALL.number)
def test_query131_averages_all(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    check_query(a2s1, AVERAGE_ALL, tolerances, note)


AVERAGE_FIRST_TWO = Question(
    "1.3.2",
    "query132",
    1,
    lambda v: v[:2].mean(0, keepdim=True),
    weights([0.5, 0.5, 0, 0]),
    "average v0 and v1",
)


@pytest.mark.graded(AVERAGE_FIRST_TWO.number)
def test_query132_averages_first_two(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    check_query(a2s1, AVERAGE_FIRST_TWO, tolerances, note)


KEY_AVERAGES_FIRST_THREE = Question(
    "1.4.1",
    "key141",
    1,
    lambda v: v[:3].mean(0, keepdim=True),
    weights([1 / 3, 1 / 3, 1 / 3, 0]),
    "average v0, v1 and v2",
)


@pytest.mark.graded(KEY_AVERAGES_FIRST_THREE.number)
def test_key141_averages_first_three(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    student_key, query = _student_key(a2s1, KEY_AVERAGES_FIRST_THREE)
    _check_output(KEY_AVERAGES_FIRST_THREE, query, student_key, tolerances.query_error, note)


KEY_SELECTS_V2 = Question("1.4.2", "key142", 1, lambda v: v[2:3], weights([0, 0, 1, 0]), "return v2")


@pytest.mark.graded(KEY_SELECTS_V2.number)
def test_key142_unit_length_selects_v2(a2s1: SectionAPI, tolerances: A2Tolerances, note: Note) -> None:
    student_key, query = _student_key(a2s1, KEY_SELECTS_V2)
    norm = float(student_key[REPLACEABLE_KEY_ROW].norm())
    if abs(norm - 1) > tolerances.key_norm:
        raise GradingFailure(
            f"k2 in key142 has length {norm:.3f}; it must have length 1 (± {tolerances.key_norm})."
        )
    _check_output(KEY_SELECTS_V2, query, student_key, tolerances.query_error, note)
