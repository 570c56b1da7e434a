"""The pytest plugin that turns graded checks into outcomes for results.json.

It ties each test to its row of the assignment table (`@pytest.mark.graded("4.2.1")`), applies the
row's timeout, provides the fixtures checks use (docs/writing-checks.md), and records for each test a
student-facing message: the text of a GradingFailure or an assert's message, never a traceback.

Any other exception is judged by the rule of grader/reference_rerun.py: the same check runs on the
staff solution's values; if it passes there, the student's value is what it could not use, and the test
fails with a plain message (the traceback goes to the log); if it fails there too, it is a grader bug:
the student is told so, and the traceback goes to the log.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from grader import errors
from grader.errors import TIMEOUT, GradingFailure
from grader.reference_rerun import CANNOT_USE, ReferenceRerun, what_failed
from grader.results import CheckOutcome
from grader.session import GradingSession
from grader.table import AssignmentTable, Profile, TestRow, Tolerances

if TYPE_CHECKING:
    from grader.checks_api import Leaderboard, Note, SectionAPI

log = logging.getLogger("grader")
NUMBER = pytest.StashKey[str]()
INTERNAL_ERROR = (
    "The grader hit an internal error in this test, so it could not be graded. "
    "This is not a problem with your code; the course staff can see the details."
)


def _failure(excinfo: pytest.ExceptionInfo[BaseException], row: TestRow) -> CheckOutcome | None:
    """The student-facing outcome of a failure, or None if it is a grader bug."""
    error = excinfo.value
    if isinstance(error, GradingFailure):
        return CheckOutcome(False, str(error), status=error.status)
    if isinstance(error, AssertionError):
        return CheckOutcome(False, str(error).strip() or "The check's condition was not met.")
    if excinfo.typename == "Failed" and "Timeout" in str(error):
        message = f"This test did not finish within its limit of {row.timeout:g} s and was stopped."
        return CheckOutcome(False, message, status=TIMEOUT)
    return None


class GradingPlugin:
    """Registered into an in-process pytest run by grader.grading_run."""

    def __init__(self, session: GradingSession, rows: list[TestRow]) -> None:
        self.session = session
        self.rows = {row.number: row for row in rows}
        self.known = {row.number for row in session.table.tests}
        self.outcomes: dict[str, CheckOutcome] = {}
        self.notes: dict[str, list[str]] = {}
        self.leaderboard_entries: list[dict[str, Any]] = []
        self.reference = ReferenceRerun(session)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.reference.close()

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "graded(number): ties a check to its row of assignment.toml")
        config.pluginmanager.register(section_fixtures(self.session), "grader-section-fixtures")

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        selected, deselected = [], []
        seen: dict[str, str] = {}
        for item in items:
            marker = item.get_closest_marker("graded")
            if marker is None or not marker.args:
                raise pytest.UsageError(f"{item.nodeid} has no @pytest.mark.graded(number)")
            number = str(marker.args[0])
            if number not in self.known:
                raise pytest.UsageError(f"{item.nodeid}: test {number} is not in assignment.toml")
            if number in seen:
                raise pytest.UsageError(f"{item.nodeid}: test {number} is also checked by {seen[number]}")
            seen[number] = item.nodeid
            if number in self.rows:
                item.stash[NUMBER] = number
                # The limit covers the check itself; the section's fixture loads the student's
                # definitions before it, under the table's own load_timeout (StudentSection.start).
                item.add_marker(pytest.mark.timeout(self.rows[number].timeout, func_only=True))
                selected.append(item)
            else:
                deselected.append(item)
        unchecked = [number for number in self.rows if number not in seen]
        if unchecked:
            raise pytest.UsageError(
                f"no check is marked @pytest.mark.graded(...) for test(s) {', '.join(unchecked)} of the "
                "table: a row is graded only by its check, so add the check or remove the row"
            )
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        # Public tests first: their process is fresh, as on the students' own machine (session.py).
        selected.sort(key=lambda item: self.rows[item.stash[NUMBER]].visibility != "public")
        items[:] = selected

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.session.current_test = item.stash.get(NUMBER, None)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = (yield).get_result()
        number = item.stash.get(NUMBER, None)
        if number is None or number in self.outcomes and report.when == "teardown":
            return
        if report.when == "call" and report.passed:
            self._record(number, CheckOutcome(True))
        elif report.failed or report.skipped:
            outcome: CheckOutcome | None
            if report.skipped:
                reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""
                outcome = CheckOutcome(False, f"This test was skipped: {reason}")
            else:
                outcome = _failure(call.excinfo, self.rows[number]) if call.excinfo else None
            if outcome is None:
                outcome = self._whose(item, number, call.excinfo, report.longreprtext)
            self._record(number, outcome)

    def _whose(
        self, item: pytest.Item, number: str, excinfo: pytest.ExceptionInfo[BaseException] | None, text: str
    ) -> CheckOutcome:
        """An unexpected exception: the student's failure if the check passes on the reference's values
        (grader/reference_rerun.py), else an internal error."""
        row = self.rows[number]
        ours = self.reference.failure(item, number, row.timeout) if excinfo is not None else "no exception"
        if ours is None and excinfo is not None:
            log.warning(
                "test %s (%s) raised on the submission's values and passed on the reference's: the "
                "submission's value is at fault:\n%s",
                number,
                item.nodeid,
                text,
            )
            return CheckOutcome(False, CANNOT_USE.format(what=what_failed(excinfo.value)))
        log.error("internal error in test %s (%s):\n%s\n%s", number, item.nodeid, text, ours)
        return CheckOutcome(False, INTERNAL_ERROR, status=errors.INTERNAL_ERROR)

    def _record(self, number: str, outcome: CheckOutcome) -> None:
        outcome.notes = tuple(self.notes.get(number, ()))
        self.outcomes.setdefault(number, outcome)

    @pytest.fixture
    def table(self) -> AssignmentTable:
        return self.session.table

    @pytest.fixture
    def tolerances(self) -> Tolerances:
        return self.session.table.tolerances

    @pytest.fixture
    def profile(self) -> Profile:
        return self.session.profile

    @pytest.fixture
    def cuda_available(self) -> bool:
        return self.session.cuda_available()

    @pytest.fixture
    def hidden_seed(self) -> int:
        """A seed drawn from the run's secret for the current test (a hidden test's inputs; a public test's
        second input, beside the notebook's own), never the same twice."""
        return self.session.hidden_seed()

    @pytest.fixture
    def note(self, request: pytest.FixtureRequest) -> Note:
        number = request.node.stash.get(NUMBER, "")
        return lambda text: self.notes.setdefault(number, []).append(text)

    @pytest.fixture
    def leaderboard(self) -> Leaderboard:
        def add(name: str, value: float | str, order: str = "desc") -> None:
            self.leaderboard_entries.append({"name": name, "value": value, "order": order})

        return add


def section_fixtures(session: GradingSession) -> types.ModuleType:
    """One fixture per section of the table, named after its notebook: ``hw1`` hands checks HW1.

    Pytest reads fixtures from a plugin's class, so fixtures whose names come from the table live on a
    module object made here, registered next to the GradingPlugin.
    """
    holder = types.ModuleType("grader_section_fixtures")
    for number, section in session.table.sections.items():
        setattr(holder, section.fixture, _section_fixture(session, number, section.fixture))
    return holder


def _section_fixture(session: GradingSession, number: int, name: str) -> Callable[[], SectionAPI]:
    """The fixture ``name``: the section's StudentSection, loaded, as the checks see it (SectionAPI;
    mypy holds StudentSection to that interface here)."""

    def student_section() -> SectionAPI:
        section = session.section(number)
        section.start()
        return section

    return pytest.fixture(name=name)(student_section)
