"""Finds the submissions in a batch folder (or Gradescope's export zip) and who made them.

Two layouts are accepted. Gradescope's "Export Submissions" gives one `submission_<id>/` folder per
submission and a `submission_metadata.yml` that maps each folder name to its submitters; any other
folder of submission folders works too, with each folder's name as the submission id and no names.
A metadata file that cannot be read costs only the names and times, never the grading. Each
submission's time (`:created_at:`) is kept for the gradebook's lateness columns.

The export zip is unpacked (safely: no path leaves the target, no links, a size cap) and its one
top folder is used. A folder that is one submission, or that holds an export one level down, is
refused with the path to use instead: graded as it is, it would be one "submission" per wrong folder.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from grader.intake.discover import SUFFIXES

METADATA_FILE = "submission_metadata.yml"
GRADESCOPE_FOLDER = re.compile(r"submission_(\d+)")
NOTEBOOK_NAME = re.compile(r"a2s[123]", re.IGNORECASE)
UNPACKED_FOLDER = "export"
MAX_UNPACKED_BYTES = 20 * 1024**3
# Gradescope writes `2024-02-09 23:01:00.123456789 -08:00`: nanoseconds, a space before the offset.
GRADESCOPE_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


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
    submitted_at: datetime | None = None

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


def parse_time(value: Any) -> datetime | None:
    """A submission's time from the metadata (YAML may have made it a datetime already), or None when
    it is missing or has no UTC offset."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    match = GRADESCOPE_TIME.fullmatch(str(value).strip())
    if match is None or match.group(4) is None:
        return None
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset == "Z" else offset
    return datetime.fromisoformat(f"{day}T{clock}.{(fraction or '0')[:6]:0<6}{offset}")


def _submitters(entry: Any) -> tuple[Submitter, ...]:
    if not isinstance(entry, dict):
        return ()
    people = entry.get(":submitters", entry.get("submitters")) or []
    return tuple(
        Submitter(_field(person, "name"), _field(person, "email"), _field(person, "sid"))
        for person in people
        if isinstance(person, dict)
    )


@dataclass(frozen=True)
class Metadata:
    """What the export says about one submission folder."""

    submitters: tuple[Submitter, ...] = ()
    submitted_at: datetime | None = None


def _metadata(entry: Any) -> Metadata:
    if not isinstance(entry, dict):
        return Metadata()
    return Metadata(_submitters(entry), parse_time(entry.get(":created_at", entry.get("created_at"))))


def load_metadata(export_dir: Path) -> tuple[dict[str, Metadata], str | None]:
    """Each folder's submitters and time from `submission_metadata.yml`, and a warning if unusable."""
    path = export_dir / METADATA_FILE
    if not path.is_file():
        return {}, None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return {}, f"{path} could not be read ({error}); grading without student names."
    if not isinstance(raw, dict):
        return {}, f"{path} is not a mapping of submission folders; grading without student names."
    return {str(folder): _metadata(entry) for folder, entry in raw.items()}, None


def _holds_export(folder: Path) -> bool:
    return (folder / METADATA_FILE).is_file() or any(
        GRADESCOPE_FOLDER.fullmatch(path.name) and path.is_dir() for path in folder.iterdir()
    )


def _visible_folders(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.iterdir() if path.is_dir() and not path.name.startswith((".", "__"))
    )


def check_layout(export_dir: Path) -> None:
    """Refuses a folder that is one submission, or the parent of an export, naming what to pass."""
    notebooks = sorted(
        path.name
        for path in export_dir.iterdir()
        if path.is_file() and path.suffix.lower() in SUFFIXES and NOTEBOOK_NAME.search(path.name)
    )
    if notebooks and not (export_dir / METADATA_FILE).is_file():
        raise BatchInputError(
            f"{export_dir} looks like one submission (it holds {', '.join(notebooks)}), not a folder of "
            f"submissions. Grade it with `python -m grader grade {export_dir}`, or pass the folder that "
            "holds one folder per submission."
        )
    if _holds_export(export_dir):
        return
    exports = [folder for folder in _visible_folders(export_dir) if _holds_export(folder)]
    if exports:
        raise BatchInputError(
            f"{export_dir} is not an export but holds one: pass {exports[0]} instead"
            + (f" (and {len(exports) - 1} other export folder(s))." if len(exports) > 1 else ".")
        )


def unpack_export(archive: Path, out_dir: Path) -> Path:
    """Unpacks Gradescope's export zip under `out_dir` (once: a rerun reuses it) and returns the
    export folder inside it."""
    target = out_dir / UNPACKED_FOLDER
    if not target.is_dir():
        partial = out_dir / f".{UNPACKED_FOLDER}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            with zipfile.ZipFile(archive) as bundle:
                _extract(bundle, partial)
        except (zipfile.BadZipFile, OSError) as error:
            raise BatchInputError(f"{archive} could not be unpacked: {error}") from None
        partial.replace(target)
    folders = _visible_folders(target)
    if not _holds_export(target) and len(folders) == 1:
        return folders[0]
    return target


def _extract(bundle: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    members = bundle.infolist()
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise BatchInputError(f"the zip would unpack to more than {MAX_UNPACKED_BYTES // 1024**3} GB")
    for member in members:
        destination = (root / member.filename).resolve()
        if root != destination and root not in destination.parents:
            raise BatchInputError(f"the zip holds a path outside its folder: {member.filename!r}")
        is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
        if member.is_dir() or is_link:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        with bundle.open(member) as source, destination.open("wb") as sink:
            shutil.copyfileobj(source, sink)


def resolve_input(path: Path, out_dir: Path) -> Path:
    """The folder of submissions to grade: `path` itself, or the export inside Gradescope's zip."""
    if path.is_file() and zipfile.is_zipfile(path):
        return unpack_export(path, out_dir)
    if path.is_file():
        raise BatchInputError(f"{path} is neither a folder of submissions nor an export zip.")
    return path


def find_submissions(export_dir: Path) -> tuple[list[Submission], list[str]]:
    """Every submission folder under `export_dir`, sorted by id, and warnings for the instructor."""
    if not export_dir.is_dir():
        raise BatchInputError(f"{export_dir} is not a folder of submissions.")
    check_layout(export_dir)
    metadata, warning = load_metadata(export_dir)
    warnings = [warning] if warning else []
    folders = _visible_folders(export_dir)
    if not folders:
        raise BatchInputError(
            f"{export_dir} holds no submission folders (expected one folder per submission, "
            "as Gradescope's 'Export Submissions' writes them)."
        )
    submissions = []
    for folder in folders:
        known = metadata.get(folder.name, Metadata())
        identity = submission_id(folder.name)
        submissions.append(Submission(identity, folder, known.submitters, known.submitted_at))
    ids = [submission.id for submission in submissions]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        raise BatchInputError(f"two folders give the same submission id: {', '.join(clashes)}")
    missing = [folder.name for folder in folders if metadata and folder.name not in metadata]
    if missing:
        warnings.append(f"{len(missing)} folder(s) not in {METADATA_FILE}: {', '.join(missing[:5])}")
    return sorted(submissions, key=lambda s: s.id), warnings
