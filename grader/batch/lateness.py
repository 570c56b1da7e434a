"""When each submission came in, and how late it is against its due date (`batch --due`).

Gradescope's export records each submission's time (`:created_at:` in submission_metadata.yml).
`--due 2024-02-09T23:59-08:00` sets the class's due date and `--extensions FILE` a CSV of per-student
due dates (columns `sid` or `email`, and `due`); grades.csv then says, per student, when the
submission came in, the due date that applies to that student and how many hours late it was. The
tool applies no penalty: the course's policy does, from these columns. Times without a UTC offset
are refused, since "23:59" means a different instant on every machine.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.batch.discovery import BatchInputError, Submitter

ID_COLUMNS = ("sid", "email")


def due_date(text: str) -> datetime:
    """`--due`: an ISO 8601 date and time with its UTC offset, e.g. 2024-02-09T23:59-08:00."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time such as 2024-02-09T23:59-08:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add the course's, e.g. {text}-08:00 for Seattle in winter"
        )
    return moment


def read_extensions(path: Path) -> dict[str, datetime]:
    """Per-student due dates from a CSV with a `due` column and a `sid` or `email` column (or both),
    keyed by student id and by lower-cased email; raises BatchInputError naming the line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BatchInputError(f"{path} could not be read: {error}") from None
    extensions: dict[str, datetime] = {}
    for line, record in enumerate(records, start=2):
        keys = [record.get(column, "").strip() for column in ID_COLUMNS]
        if "due" not in record or not any(keys):
            raise BatchInputError(f"{path}:{line}: each row needs a `due` and a `sid` or an `email`")
        try:
            due = due_date(record["due"].strip())
        except argparse.ArgumentTypeError as error:
            raise BatchInputError(f"{path}:{line}: {error}") from None
        sid, email = keys
        if sid:
            extensions[sid] = due
        if email:
            extensions[email.lower()] = due
    return extensions


@dataclass(frozen=True)
class Deadlines:
    """The class's due date and each extension; `due` None means no due date was given."""

    due: datetime | None = None
    extensions: dict[str, datetime] = field(default_factory=dict)

    def due_for(self, person: Submitter) -> datetime | None:
        """The due date that applies to one student: an extension by id or email, else the class's."""
        return self.extensions.get(person.sid) or self.extensions.get(person.email.lower()) or self.due

    def hours_late(self, submitted: datetime | None, person: Submitter) -> float | None:
        """Hours after that student's due date (0 when on time), or None when either time is unknown."""
        due = self.due_for(person)
        if submitted is None or due is None:
            return None
        return round(max(0.0, (submitted - due).total_seconds() / 3600), 2)


def iso(moment: datetime | None) -> str:
    """A time as grades.csv writes it (ISO 8601 with its offset), or empty."""
    return "" if moment is None else moment.isoformat(timespec="seconds")
