"""One grading run: intake, checks under pytest, results.json — whatever happens along the way.

The provisional results file is written first; the checks then run in-process under pytest with
GradingPlugin, and the file is rewritten (atomically) after every test, so a run stopped from outside
(Gradescope's global time limit, a kill) leaves every finished test's score on disk and lists the
others as not graded. The final file replaces the last provisional one. An exception in our own code
still ends with a valid file in which every test is listed and failed with a reason.
"""

from __future__ import annotations

import io
import logging
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.assignment_home import CHECKS_DIR
from grader.plugin import GradingPlugin
from grader.results import CheckOutcome, build_results, write_results
from grader.section_resources import declared_resources
from grader.session import GradingSession
from grader.table import AssignmentTable, Profile, TestRow, load_table

log = logging.getLogger("grader")
#: The pytest settings of the graded checks, kept apart from the project's own (pyproject.toml).
CHECKS_CONFIG = Path(__file__).with_name("checks_pytest.ini")
CONFINEMENT_KEY = "confinement"
NOT_FINISHED = "Grading did not finish, so this test was not graded. The course staff can see why."
IN_PROGRESS = "Grading was stopped before it finished: the tests not graded yet are listed with 0 points."
GRADER_ERROR = "The grader failed before it could grade this test. This is not a problem with your code."


@dataclass
class RunOptions:
    submission_dir: Path
    results_path: Path
    profile: str = "offline"
    sections: set[int] | None = None
    tests: set[str] | None = None
    public_only: bool = False
    sandbox_user: str = "auto"
    protect: tuple[Path, ...] = ()
    checks_dir: Path = CHECKS_DIR
    seed: int | None = None


def graded_on(table: AssignmentTable, profile: Profile, sections: set[int]) -> str:
    """Where the run graded, in the student's terms (the profile's name is for staff: extra_data), and
    what the graded sections' resources were."""
    where = f"graded on {'a GPU' if profile.device == 'cuda' else 'the CPU'}"
    clauses = [resources.graded_on(profile) for resources in declared_resources(table, sections).values()]
    return "; ".join([where, *clauses])


def summary(session: GradingSession, rows: list[TestRow], profile: Profile, public_only: bool) -> str:
    """The top-level output students see: what was graded, for which course, on what, what was not run."""
    sections = {row.section for row in rows}
    course = session.table.assignment.course
    lines = [f"{session.table.title} ({course}), {graded_on(session.table, profile, sections)}."]
    for number in sorted({row.section for row in rows}):
        section = session.table.sections[number]
        found = session.files.get(number)
        refused = session.refused.get(number)
        if (found is None or found.path is None) and refused:
            lines.append(f"§{number} {section.title}: " + "; ".join(item.message() for item in refused) + ".")
            continue
        if found is None or found.path is None:
            lines.append(f"§{number} {section.title}: {section.file}.py was not found.")
            continue
        text = f"§{number} {section.title}: graded {found.path.relative_to(session.submission_dir)}"
        if found.passed_over:
            others = ", ".join(str(p.relative_to(session.submission_dir)) for p in found.passed_over)
            text += f" (also found, not graded: {others}" + (
                f"; graded because {found.why})" if found.why else ")"
            )
        lines.append(text + ".")
        lines += [f"  Note: {note}" for note in session.notes.get(number, ())]
    if public_only:
        hidden = [
            row for row in session.table.select({row.section for row in rows}) if row.visibility == "hidden"
        ]
        if hidden:
            lines.append(
                f"Only public tests were run. {len(hidden)} hidden tests "
                f"({sum(row.max_score for row in hidden):g} points) run on Gradescope only."
            )
    return "\n".join(lines)


class ProgressWriter:
    """Rewrites results.json after each test with the outcomes so far (a second pytest plugin, so the
    grading plugin knows nothing of files)."""

    def __init__(self, grading: GradingPlugin, rows: list[TestRow], path: Path, started: float) -> None:
        self.grading, self.rows, self.path, self.started = grading, rows, path, started

    def pytest_runtest_logfinish(self) -> None:
        results = build_results(
            self.rows,
            self.grading.outcomes,
            IN_PROGRESS,
            time.monotonic() - self.started,
            self.grading.leaderboard_entries,
            NOT_FINISHED,
        )
        write_results(self.path, results)


def _run_checks(
    session: GradingSession, rows: list[TestRow], checks_dir: Path, results_path: Path, started: float
) -> GradingPlugin:
    plugin = GradingPlugin(session, rows)
    progress = ProgressWriter(plugin, rows, results_path, started)
    args = [
        str(checks_dir),
        "-c",
        str(CHECKS_CONFIG),
        "--rootdir",
        str(checks_dir),
        "--import-mode=importlib",
        "--assert=plain",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:faulthandler",
        "-q",
    ]
    captured = io.StringIO()
    with redirect_stdout(captured), redirect_stderr(captured):
        code = pytest.main(args, plugins=[plugin, progress])
    # A usage error is a table or a check the grader cannot use (a row with no check, say): ours to fix.
    level = logging.ERROR if code == pytest.ExitCode.USAGE_ERROR else logging.INFO
    log.log(level, "checks finished (pytest exit code %s):\n%s", int(code), captured.getvalue().strip())
    return plugin


def grade_submission(options: RunOptions, table: AssignmentTable | None = None) -> dict[str, Any]:
    """Grade one submission and write its results.json; return the results as written."""
    started = time.monotonic()
    table = table or load_table()
    profile = table.profile(options.profile)
    rows = table.select(options.sections, options.public_only, options.tests)
    write_results(
        options.results_path,
        build_results(rows, {}, NOT_FINISHED, 0, missing_reason=NOT_FINISHED),
    )
    session = GradingSession(
        options.submission_dir,
        table,
        profile,
        options.sandbox_user,
        (options.checks_dir, *options.protect),
        options.seed,
    )
    try:
        session.start({row.section for row in rows})
        plugin = _run_checks(session, rows, options.checks_dir, options.results_path, started)
        output = summary(session, rows, profile, options.public_only)
        outcomes: dict[str, CheckOutcome] = plugin.outcomes
        leaderboard = plugin.leaderboard_entries
        missing = (
            "No check was run for this test (a grader configuration error; the course staff can see it)."
        )
    except Exception as error:  # noqa: BLE001 - any failure of ours must still produce a results file
        log.error("grading failed: %s\n%s", error, traceback.format_exc())
        output, outcomes, leaderboard, missing = GRADER_ERROR, {}, [], GRADER_ERROR
    finally:
        session.close()
    results = build_results(rows, outcomes, output, time.monotonic() - started, leaderboard, missing)
    # Hidden from students: what confinement each section's sandbox achieved, in the launcher's words.
    results.setdefault("extra_data", {})[CONFINEMENT_KEY] = session.confinement
    # Hidden from students too: the integrity flag and the run's secret (docs/verdicts.md).
    results["extra_data"].update(integrity=session.integrity.extra_data(), grading_seed=session.secret)
    # The course and profile that graded (every output names the course; staff see the profile), and
    # the file graded for each notebook (the §3 forward sends that very file).
    graded_files = {
        table.sections[number].file: found.path.relative_to(session.submission_dir).as_posix()
        for number, found in session.files.items()
        if found.path is not None
    }
    results["extra_data"].update(
        course=table.assignment.course, profile=profile.name, graded_files=graded_files
    )
    return write_results(options.results_path, results)
