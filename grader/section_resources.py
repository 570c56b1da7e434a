"""What a section's checks and notebook load besides the student's code: a model, data, stand-ins.

A section declares its resources in the table (``resources = "module:NAME"``); the engine asks them
only what it must know to run the section, through ``SectionResources``: what preflight reports
missing, the folder the student's process may read, the environment that leads a notebook's own
loading cells to the grader's copies, and the words that say what the run graded on. Everything
else about them (what a split is, how a tokenizer loads) stays with the assignment's checks.
Resources that cannot be loaded raise a ``StaffSetupFailure`` saying what is missing and its fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from grader.declarations import declared
from grader.table import AssignmentTable, Profile, SectionSpec

#: Writes a read-only folder of files the student's process may read (name, {file: text}) and
#: returns where it is.
AddFolder = Callable[[str, dict[str, str]], Path]


@runtime_checkable
class SectionResources(Protocol):
    """A section's resources, as the engine uses them."""

    def missing(self, profile: Profile) -> str | None:
        """What keeps the profile's resources from loading, with its fix, for the staff; None if none."""

    def model_folder(self, profile: Profile) -> Path:
        """The folder the student's process may read (the model its drivers load)."""

    def stand_ins(self, profile: Profile, add_folder: AddFolder, links_variable: str) -> dict[str, str]:
        """The student process's environment that leads the notebook's loading cells to the profile's
        own resources (`links_variable` carries the names to link, as JSON)."""

    def graded_on(self, profile: Profile) -> str:
        """A clause saying what the section's checks ran on with this profile, for the students."""

    def is_stand_in(self, profile: Profile) -> bool:
        """Whether the profile's resources are a small stand-in rather than the real ones."""


def section_resources(section: SectionSpec) -> SectionResources | None:
    """The resources `section` declares, or None."""
    if not section.resources:
        return None
    # mypy refuses a Protocol as a type[...] argument (type-abstract); runtime_checkable makes it one.
    kind: type[SectionResources] = SectionResources  # type: ignore[type-abstract]
    return declared(section.resources, kind, f"sections.{section.number}.resources")


def declared_resources(
    table: AssignmentTable, sections: set[int] | None = None
) -> dict[int, SectionResources]:
    """Every declared resource of the table's sections (those in `sections`, when given)."""
    found = {}
    for number, section in table.sections.items():
        resources = section_resources(section) if sections is None or number in sections else None
        if resources is not None:
            found[number] = resources
    return found
