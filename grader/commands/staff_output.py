"""What the staff read after one grading run, in a minute: a summary first, then the run condensed.

The instructor log (results.log, grader.log in run_autograder's results) keeps everything; most of
it is expected: pytest's report of every check a student failed (their tracebacks are the grader's
own frames, not news), and whatever the student's process printed (LaTeX in a student's strings
gives a SyntaxWarning per string). The staff output therefore leads with what they act on:

- the summary: course, profile, score, the confinement each section's process got, and every
  internal error (ours) with its traceback;
- the log condensed: one line per record, pytest's report of the failed checks replaced by its size,
  the student's process output and warnings counted, not dumped; the tests' own results are in the
  score table, one line each.

The filtering is here, at the output layer, so the log itself stays complete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from grader.errors import INTERNAL_ERROR
from grader.sanitise import one_line
from grader.score_table import total_line

RECORD_START = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", re.MULTILINE
)
# Log records that hold a traceback of ours, kept whole.
INTERNAL_RECORDS = ("internal error in test", "grading failed")
CHECKS_REPORT = "checks finished"
STUDENT_OUTPUT = "output of the "
WARNING_LINE = re.compile(r"\b\w*Warning\b")
LINE_CHARS = 300


@dataclass(frozen=True)
class LogRecord:
    level: str
    lines: list[str]


def log_records(text: str) -> list[LogRecord]:
    """The records of an instructor log (each may span several lines)."""
    starts = list(RECORD_START.finditer(text))
    return [
        LogRecord(match.group(1), text[match.start() : ends].rstrip("\n").splitlines())
        for match, ends in zip(starts, [m.start() for m in starts[1:]] + [len(text)], strict=True)
    ]


def _short(line: str) -> str:
    """One line of the log as the terminal shows it: control characters neutralised, shortened."""
    line = one_line(line)
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"


@dataclass
class Condensed:
    """The log as the staff read it, and what it left out."""

    lines: list[str]
    internal_errors: list[list[str]]
    student_lines: int = 0
    student_warnings: int = 0


def condense(text: str) -> Condensed:
    """One line per log record; internal errors apart and whole; the student's output counted."""
    condensed = Condensed([], [])
    for record in log_records(text):
        first, rest = record.lines[0], record.lines[1:]
        if any(marker in first for marker in INTERNAL_RECORDS):
            condensed.internal_errors.append(record.lines)
            condensed.lines.append(_short(first) + " (traceback in the summary above)")
        elif CHECKS_REPORT in first:
            # Compiling the student's strings warns here (LaTeX's `\alpha` is an invalid escape).
            warnings = sum(bool(WARNING_LINE.search(line)) for line in rest)
            condensed.student_warnings += warnings
            condensed.lines.append(
                _short(first.rstrip(":")) + f"; pytest's report: {len(rest)} lines, {warnings} warnings"
            )
        elif STUDENT_OUTPUT in first:
            warnings = sum(bool(WARNING_LINE.search(line)) for line in rest)
            condensed.student_lines += len(rest)
            condensed.student_warnings += warnings
            condensed.lines.append(
                _short(first.rstrip(":")) + f": {len(rest)} lines, {warnings} of them warnings"
            )
        else:
            condensed.lines.append(_short(first) + (f" (+{len(rest)} lines)" if rest else ""))
    return condensed


def staff_summary(results: dict[str, Any], condensed: Condensed, log_path: str) -> list[str]:
    """The block the staff output starts with."""
    extra = results.get("extra_data", {})
    course = extra.get("course", "the base table")
    tests = results.get("tests", [])
    ours = [test["number"] for test in tests if test.get("extra_data", {}).get("status") == INTERNAL_ERROR]
    lines = [
        f"== For the staff: {course}, profile {extra.get('profile', '?')!r}, score {total_line(tests)} ==",
    ]
    for section, confinement in extra.get("confinement", {}).items():
        lines.append(f"{section} confinement: {json.dumps(confinement, sort_keys=True)}")
    lines.append(
        f"the student's code: {condensed.student_lines} lines printed, {condensed.student_warnings} "
        f"warnings (not shown; the full log is {log_path})"
    )
    if not ours and not condensed.internal_errors:
        lines.append("internal errors: none")
        return lines
    lines.append(f"INTERNAL ERRORS (ours, not the student's): tests {', '.join(ours) or 'none'}")
    for record in condensed.internal_errors:
        lines += [f"  {one_line(line)}" for line in record]
    return lines


def staff_report(results: dict[str, Any], log_text: str, log_path: str, table: str) -> str:
    """The summary, the score table (one line per test) and the log condensed, under their headings."""
    condensed = condense(log_text)
    heading = f"== The run, condensed (the full log: {log_path}) =="
    return "\n".join([*staff_summary(results, condensed, log_path), "", table, "", heading, *condensed.lines])
