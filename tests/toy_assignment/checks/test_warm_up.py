"""The toy assignment's two checks: a value question and a function question."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from grader.errors import GradingFailure

if TYPE_CHECKING:
    from grader.checks_api import SectionAPI


@pytest.mark.graded("1.1.1")
def test_greeting(warmup: SectionAPI) -> None:
    greeting = warmup.get("greeting")
    if greeting != "hello":
        raise GradingFailure(f"greeting is {greeting!r}; it should be 'hello'.")


@pytest.mark.graded("1.2.1")
def test_double(warmup: SectionAPI) -> None:
    for number in (0, 3, -7):
        doubled = warmup.call("double", (number,))
        if doubled != 2 * number:
            raise GradingFailure(f"double({number}) returned {doubled!r}, not {2 * number}.")
