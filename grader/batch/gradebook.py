"""The class's grades as files an instructor imports: grades.csv, canvas.csv and tests.csv.

- `grades.csv`: one row per student (each member of a group gets the group's row), the course, base
  points and extra credit in separate columns, the status (grader.batch.grades), the integrity flags,
  when the submission came in, the student's due date and how many hours late it was
  (grader.batch.lateness), and per section and per test the score, per test its status. Columns
  follow the assignment table's order.
- `canvas.csv`: Canvas's gradebook import format (see CANVAS_COLUMNS); a submission that was not
  graded (timeout, internal grader error) gets an empty cell, which Canvas leaves unchanged.
- `tests.csv`: one row per submission and test, with the first line of the feedback, for the staff
  who look at one test across the class.
Every student-controlled cell goes through grader.sanitise.csv_cell.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from grader.batch.class_report import first_line
from grader.batch.grades import GradeRow
from grader.batch.lateness import Deadlines, iso
from grader.sanitise import csv_cell
from grader.table import TestRow

GRADES_FILE = "grades.csv"
CANVAS_FILE = "canvas.csv"
TESTS_FILE = "tests.csv"
# Canvas matches a row to a student by "SIS User ID" (Gradescope's student id) or "SIS Login ID"
# (here the email); "ID" is Canvas's own number, which Gradescope does not know, so it stays empty.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _write(path: Path, header: list[str], records: Iterable[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([csv_cell(cell) for cell in record] for record in records)


def write_grades_csv(
    path: Path, rows: list[GradeRow], graded: list[TestRow], course: str, deadlines: Deadlines
) -> None:
    """grades.csv: one row per student (see the module's docstring)."""
    sections = sorted({test.section for test in graded})
    header = ["submission_id", "name", "email", "sid", "course", "status", "base_points", "base_max"]
    header += ["extra_credit", "total", "integrity", "submitted_at", "due", "hours_late"]
    header += [f"section_{number}" for number in sections]
    for test in graded:
        header += [f"test_{test.number}", f"status_{test.number}"]
    header += ["grading_seconds", "message"]
    base_max = sum(test.max_score for test in graded)

    def records() -> Iterator[list[str]]:
        for row in rows:
            scores = [_cell(row.section_score(number, graded)) for number in sections]
            per_test = []
            for test in graded:
                result = row.tests.get(test.number)
                per_test += [_cell(row.test_score(test.number)), result.status if result else ""]
            submitted = row.submission.submitted_at
            for person in row.people:
                yield [
                    row.submission.id,
                    person.name,
                    person.email,
                    person.sid,
                    course,
                    row.status,
                    _cell(row.base if row.graded else None),
                    _cell(base_max),
                    _cell(row.extra_credit if row.graded else None),
                    _cell(row.total if row.graded else None),
                    row.results.integrity,
                    iso(submitted),
                    iso(deadlines.due_for(person)),
                    _cell(deadlines.hours_late(submitted, person)),
                    *scores,
                    *per_test,
                    _cell(row.outcome.seconds),
                    row.outcome.message,
                ]

    _write(path, header, records())


def write_canvas_csv(path: Path, rows: list[GradeRow], column: str) -> None:
    """canvas.csv: Canvas's import columns and one assignment column holding base + extra credit."""
    _write(
        path,
        [*CANVAS_COLUMNS, column],
        (
            [person.name, "", person.sid, person.email, "", _cell(row.total if row.graded else None)]
            for row in rows
            for person in row.people
        ),
    )


def write_tests_csv(path: Path, rows: list[GradeRow], graded: list[TestRow]) -> None:
    """tests.csv: one row per submission and test."""
    header = ["submission_id", "names", "sids", "test", "test_name", "section", "points", "extra_credit"]
    header += ["score", "status", "feedback"]
    _write(
        path,
        header,
        (
            [
                row.submission.id,
                row.submission.names,
                "; ".join(person.sid for person in row.submission.submitters if person.sid),
                test.number,
                test.name,
                str(test.section),
                _cell(test.points),
                "yes" if test.extra_credit else "no",
                _cell(row.test_score(test.number)),
                row.tests[test.number].status if test.number in row.tests else row.status,
                first_line(row.tests[test.number].output) if test.number in row.tests else "",
            ]
            for row in rows
            for test in graded
        ),
    )


def write_gradebook(
    out_dir: Path,
    rows: list[GradeRow],
    graded: list[TestRow],
    canvas_column: str,
    course: str,
    deadlines: Deadlines | None = None,
) -> None:
    """Writes grades.csv, canvas.csv and tests.csv into `out_dir`."""
    write_grades_csv(out_dir / GRADES_FILE, rows, graded, course, deadlines or Deadlines())
    write_canvas_csv(out_dir / CANVAS_FILE, rows, canvas_column)
    write_tests_csv(out_dir / TESTS_FILE, rows, graded)
