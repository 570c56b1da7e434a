"""The checks' interface (grader/checks_api.py) and the session that serves it cannot drift apart.

mypy reads this file (pyproject.toml's ``files``): the functions ``_as_*`` below type-check only while
each class of the session satisfies its protocol, so `make lint` fails when one no longer does. The
tests hold the same promise at run time, where mypy does not look: the members and their parameters,
the docstrings checks read, and that nothing imports the interface at run time (so it ships nowhere).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.checks_api import CallResult, FlagLog, SectionAPI, SessionAPI
from grader.import_closure import imported_names
from grader.integrity import IntegrityLog
from grader.session import GradingSession
from grader.student_section import CallReport, StudentSection

REPO = Path(__file__).resolve().parent.parent
#: Attributes StudentSection sets in __init__ that SectionAPI reads as properties.
SECTION_ATTRIBUTES = {"number", "filename", "session"}


def _as_section_api(section: StudentSection) -> SectionAPI:
    return section


def _as_session_api(session: GradingSession) -> SessionAPI:
    return session


def _as_call_result(report: CallReport) -> CallResult:
    return report


def _as_flag_log(log: IntegrityLog) -> FlagLog:
    return log


def members(protocol: type) -> dict[str, object]:
    """The members a protocol declares (its own, not those of Protocol or object)."""
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def test_every_member_of_section_api_is_a_method_or_attribute_of_student_section() -> None:
    declared = members(SectionAPI)
    assert {"get", "call", "call_detailed", "run", "has", "function_node"} <= set(declared)
    properties = {name for name, value in declared.items() if isinstance(value, property)}
    assert properties == SECTION_ATTRIBUTES
    assert SECTION_ATTRIBUTES <= set(StudentSection.__init__.__code__.co_names)
    for name in set(declared) - properties:
        assert callable(getattr(StudentSection, name, None)), name


@pytest.mark.parametrize("name", ["get", "call", "call_detailed", "run", "has", "function_node"])
def test_methods_take_the_parameters_the_protocol_names(name: str) -> None:
    """Names, kinds and defaults; mypy compares the types."""

    def shape(function: Callable[..., object]) -> list[tuple[str, object, object]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(getattr(StudentSection, name)) == shape(getattr(SectionAPI, name))


@pytest.mark.parametrize("name", ["get", "call", "call_detailed", "run", "has", "function_node"])
def test_each_method_checks_use_says_what_it_returns_and_raises(name: str) -> None:
    doc = inspect.getdoc(getattr(StudentSection, name)) or ""
    assert "Args:" in doc and "Returns:" in doc and "Raises:" in doc, name


def test_the_attributes_checks_read_are_described() -> None:
    doc = inspect.getdoc(StudentSection) or ""
    assert "SectionAPI" in doc
    assert all(f"    {name}:" in doc for name in SECTION_ATTRIBUTES)


def test_nothing_imports_the_interface_at_run_time() -> None:
    """Checks and helpers import grader.checks_api only under ``if TYPE_CHECKING:``, so it is not
    among what the students' checker ships or the sandbox stages (grader/import_closure.py)."""
    sources = sorted(path for package in ("grader", "a2") for path in (REPO / package).rglob("*.py"))
    importers = [path for path in sources if "grader.checks_api" in path.read_text(encoding="utf-8")]
    assert REPO / "a2" / "sections" / "s2" / "judging.py" in importers
    assert [path for path in importers if "grader.checks_api" in imported_names(path)] == []


def test_imports_only_a_type_checker_reads_are_not_imports(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "import grader.errors\n"
        "if TYPE_CHECKING:\n"
        "    from grader.student_section import StudentSection\n"
        "else:\n"
        "    from grader import comparison\n"
        "if typing.TYPE_CHECKING:\n"
        "    import grader.plugin\n"
        "def f() -> None:\n"
        "    from grader.table import load_table\n"
    )
    assert imported_names(source) == {
        "grader.errors",
        "grader",
        "grader.comparison",
        "grader.table",
        "grader.table.load_table",
    }
