"""Finds the submissions in a batch folder and who made them.

Two layouts are accepted. Gradescope's "Export Submissions" gives one `submission_<id>/` folder per
submission and a `submission_metadata.yml` that maps each folder name to its submitters; any other
folder of submission folders works too, with each folder's name as the submission id and no names.
A metadata file that cannot be read costs only the names, never the grading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

METADATA_FILE = "submission_metadata.yml"
GRADESCOPE_FOLDER = re.compile(r"submission_(\d+)")


class BatchInputError(ValueError):
    """The batch folder cannot be graded; the message says why."""


@dataclass(frozen=True)
class Submitter:
    name: str
    email: str
    sid: str


@dataclass(frozen=True)
class Submission:
    """One submission folder and the people it belongs to."""

    id: str
    folder: Path
    submitters: tuple[Submitter, ...] = ()

    @property
    def names(self) -> str:
        return "; ".join(person.name for person in self.submitters if person.name)

    @property
    def emails(self) -> str:
        return "; ".join(person.email for person in self.submitters if person.email)


def submission_id(folder_name: str) -> str:
    """Gradescope's numeric id for its `submission_<id>` folders, the folder name otherwise."""
    match = GRADESCOPE_FOLDER.fullmatch(folder_name)
    return match.group(1) if match else folder_name


def _field(record: dict[Any, Any], key: str) -> str:
    """Gradescope writes Ruby-symbol keys (`:name`); plain keys are accepted as well."""
    value = record.get(f":{key}", record.get(key))
    return "" if value is None else str(value)


def _submitters(entry: Any) -> tuple[Submitter, ...]:
    if not isinstance(entry, dict):
        return ()
    people = entry.get(":submitters", entry.get("submitters")) or []
    return tuple(
        Submitter(_field(person, "name"), _field(person, "email"), _field(person, "sid"))
        for person in people
        if isinstance(person, dict)
    )


def load_metadata(export_dir: Path) -> tuple[dict[str, tuple[Submitter, ...]], str | None]:
    """Submitters per folder name from `submission_metadata.yml`, and a warning if it was unusable."""
    path = export_dir / METADATA_FILE
    if not path.is_file():
        return {}, None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return {}, f"{path} could not be read ({error}); grading without student names."
    if not isinstance(raw, dict):
        return {}, f"{path} is not a mapping of submission folders; grading without student names."
    return {str(folder): _submitters(entry) for folder, entry in raw.items()}, None


def find_submissions(export_dir: Path) -> tuple[list[Submission], list[str]]:
    """Every submission folder under `export_dir`, sorted by id, and warnings for the instructor."""
    if not export_dir.is_dir():
        raise BatchInputError(f"{export_dir} is not a folder of submissions.")
    metadata, warning = load_metadata(export_dir)
    warnings = [warning] if warning else []
    folders = sorted(
        path for path in export_dir.iterdir() if path.is_dir() and not path.name.startswith((".", "__"))
    )
    if not folders:
        raise BatchInputError(
            f"{export_dir} holds no submission folders (expected one folder per submission, "
            "as Gradescope's 'Export Submissions' writes them)."
        )
    submissions = [
        Submission(submission_id(folder.name), folder, metadata.get(folder.name, ())) for folder in folders
    ]
    ids = [submission.id for submission in submissions]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        raise BatchInputError(f"two folders give the same submission id: {', '.join(clashes)}")
    missing = [folder.name for folder in folders if metadata and folder.name not in metadata]
    if missing:
        warnings.append(f"{len(missing)} folder(s) not in {METADATA_FILE}: {', '.join(missing[:5])}")
    return sorted(submissions, key=lambda s: s.id), warnings
