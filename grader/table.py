"""The assignment table: one instructor-editable file (assignment.toml) holding every number.

Tests, points, visibilities, tolerances, sandbox limits and per-profile settings are read from here so
that no check hard-codes them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("assignment.toml")
VISIBILITIES = {"public": "visible", "hidden": "after_published"}


class TableError(ValueError):
    """The assignment table is malformed; the message names the entry."""


@dataclass(frozen=True)
class TestRow:
    """One graded test as the table defines it."""

    number: str
    section: int
    name: str
    points: float
    visibility: str
    timeout: float
    extra_credit: bool = False

    @property
    def gradescope_visibility(self) -> str:
        return VISIBILITIES[self.visibility]

    @property
    def max_score(self) -> float:
        """Extra-credit tests add to the score without raising the maximum."""
        return 0.0 if self.extra_credit else self.points


@dataclass(frozen=True)
class Section:
    number: int
    file: str
    title: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return str(self.settings.get("device", "cpu"))

    @property
    def threshold(self) -> float:
        return float(self.settings["threshold"])


@dataclass(frozen=True)
class AssignmentTable:
    title: str
    sections: dict[int, Section]
    tests: tuple[TestRow, ...]
    sandbox: dict[str, Any]
    tolerances: dict[str, float]
    profiles: dict[str, Profile]

    def test(self, number: str) -> TestRow:
        for row in self.tests:
            if row.number == number:
                return row
        raise KeyError(number)

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise TableError(f"unknown profile {name!r} (the table defines: {known})")
        return self.profiles[name]

    def select(
        self, sections: set[int] | None = None, public_only: bool = False, numbers: set[str] | None = None
    ) -> list[TestRow]:
        """The rows a run grades, in table order; raise TableError for a number the table lacks."""
        unknown = sorted((numbers or set()) - {row.number for row in self.tests})
        if unknown:
            raise TableError(f"no such test: {', '.join(unknown)}")
        return [
            row
            for row in self.tests
            if (sections is None or row.section in sections)
            and (not public_only or row.visibility == "public")
            and (numbers is None or row.number in numbers)
        ]


def _row(entry: dict[str, Any], sections: dict[int, Section]) -> TestRow:
    try:
        row = TestRow(
            number=str(entry["number"]),
            section=int(entry["section"]),
            name=str(entry["name"]),
            points=float(entry["points"]),
            visibility=str(entry["visibility"]),
            timeout=float(entry["timeout"]),
            extra_credit=bool(entry.get("extra_credit", False)),
        )
    except KeyError as missing:
        raise TableError(f"test {entry.get('number', '?')}: missing field {missing}") from None
    if row.visibility not in VISIBILITIES:
        raise TableError(f"test {row.number}: visibility must be one of {sorted(VISIBILITIES)}")
    if row.section not in sections:
        raise TableError(f"test {row.number}: section {row.section} is not defined")
    return row


def load_table(path: Path = TABLE_PATH) -> AssignmentTable:
    """Parse and validate the table; raise TableError with the faulty entry named."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    sections = {
        int(key): Section(int(key), value["file"], value["title"], tuple(value.get("answers", ())))
        for key, value in raw["sections"].items()
    }
    tests = tuple(_row(entry, sections) for entry in raw["tests"])
    numbers = [row.number for row in tests]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise TableError(f"duplicate test numbers: {', '.join(duplicates)}")
    profiles = {name: Profile(name, dict(values)) for name, values in raw.get("profiles", {}).items()}
    return AssignmentTable(
        title=raw["assignment"]["title"],
        sections=sections,
        tests=tests,
        sandbox=dict(raw.get("sandbox", {})),
        tolerances={k: float(v) for k, v in raw.get("tolerances", {}).items()},
        profiles=profiles,
    )
