"""Gradescope's results.json: built from the table and the check outcomes, validated, written safely.

A results file is written before any check runs (every test failed, "grading did not finish"),
rewritten after each test and replaced at the end, so whatever stops the grader, Gradescope finds a
valid file that lists every test with a reason for each lost point. Each write replaces the file
atomically: a reader (or a kill in the middle of a write) never sees half a file. Every string in it
passes the one sanitiser first (grader/sanitise.py): student-controlled text is part of many messages.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from grader.errors import FAILED, INTERNAL_ERROR, PASSED
from grader.sanitise import clean_tree
from grader.table import TestRow

SCHEMA_PATH = Path(__file__).with_name("schemas") / "gradescope-results.schema.json"


@dataclass
class CheckOutcome:
    """How one test ended: passed or not, the student-facing message, ungraded notes, and the status
    the class gradebook shows (one of grader.errors.TEST_STATUSES; empty means passed or failed)."""

    passed: bool
    message: str = ""
    notes: tuple[str, ...] = ()
    status: str = ""


def test_entry(row: TestRow, outcome: CheckOutcome) -> dict[str, Any]:
    parts = [outcome.message.strip()] if outcome.message.strip() else []
    parts += [f"Note: {note}" for note in outcome.notes]
    return {
        "number": row.number,
        "name": row.name,
        "score": row.points if outcome.passed else 0.0,
        "max_score": row.max_score,
        "status": "passed" if outcome.passed else "failed",
        "output": "\n\n".join(parts),
        "output_format": "text",
        "visibility": row.gradescope_visibility,
        "tags": [f"section {row.section}"] + (["extra credit"] if row.extra_credit else []),
        "extra_data": {
            "section": row.section,
            "extra_credit": row.extra_credit,
            "points": row.points,
            "status": PASSED if outcome.passed else outcome.status or FAILED,
        },
    }


def build_results(
    rows: list[TestRow],
    outcomes: dict[str, CheckOutcome],
    output: str,
    execution_time: float,
    leaderboard: list[dict[str, Any]] | None = None,
    missing_reason: str = "No check was run for this test.",
) -> dict[str, Any]:
    missing = CheckOutcome(False, missing_reason, status=INTERNAL_ERROR)
    tests = [test_entry(row, outcomes.get(row.number, missing)) for row in rows]
    results: dict[str, Any] = {
        "score": round(sum(test["score"] for test in tests), 4),
        "execution_time": round(execution_time),
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if leaderboard:
        results["leaderboard"] = leaderboard
    return results


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate(results: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the results do not match Gradescope's format."""
    jsonschema.validate(results, schema())


def results_are_valid(path: Path) -> bool:
    """Whether `path` holds a results.json that matches Gradescope's schema."""
    try:
        validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, jsonschema.ValidationError):
        return False
    return True


def write_results(path: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Sanitise and validate, then replace `path` atomically (readable by its owner only); return the
    results as written."""
    results = clean_tree(results)
    validate(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(results, stream, indent=2, sort_keys=True)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return results
