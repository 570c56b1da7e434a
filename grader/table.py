"""The assignment table: one instructor-editable file (assignment.toml) holding every number.

Tests, points, visibilities, tolerances, sandbox limits and per-profile settings are read from here so
that no check hard-codes them. Every section of the file is a frozen dataclass below; each field
carries its default (if it has one) and its description, and nothing else in the grader supplies a
default for table data. ``load_table`` validates the whole file when it is read: an unknown key (a
typo), a missing key, a value of the wrong type or outside its choices is a ``TableError`` naming the
file, the line and the key, never a traceback in the middle of a grading run.

Course variants are overlays of the same table. ``courses/<course>.toml`` beside it holds only what differs
from ``assignment.toml`` (one course requires two tests the other counts as extra credit);
``load_table(course="517")`` reads the base table and applies the overlay. An overlay may set any key of
``[assignment]``, ``[sandbox]``, ``[tolerances]`` and ``[profiles.*]``, and change fields of existing tests
by number (``[tests."4.2.1"]``); it cannot add or remove tests or sections. Without a ``course`` argument
the course comes from the ``A2_COURSE`` environment variable, and without that the base table is used as it
is. A build that grades for one course (``make autograder COURSE=517``) passes that course
to ``load_table`` or sets ``A2_COURSE`` where the grader runs; ``courses()`` lists the overlays there are.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from grader.assignment_home import ASSIGNMENT_DIR, LOCATION_PROBLEM, TABLE_NAME

TABLE_PATH = ASSIGNMENT_DIR / TABLE_NAME
COURSES_DIR = TABLE_PATH.with_name("courses")
COURSE_VARIABLE = "A2_COURSE"
VISIBILITIES = {"public": "visible", "hidden": "after_published"}
DEVICES = ("cpu", "cuda")


class TableError(ValueError):
    """The assignment table is malformed; the message names the file, the line and the key."""


def setting(
    description: str, default: Any = MISSING, choices: tuple[Any, ...] = (), positive: bool = False
) -> Any:
    """A field of the table: its description, its default (none: the key is required) and its rules."""
    metadata = {"description": description, "choices": choices, "positive": positive}
    return field(default=default, metadata=metadata)


def keyed(description: str) -> Any:
    """A field filled from the entry's key or position in the file, not from a key inside it."""
    return field(metadata={"description": description, "keyed": True})


@dataclass(frozen=True, kw_only=True)
class AssignmentInfo:
    """``[assignment]``: what the table is for."""

    title: str = setting("shown at the top of every results.json and score table")
    course: str = setting("the course the table grades for, e.g. CSE 447", default="CSE 447")
    students_transformers: str = setting(
        "the transformers version the course's students wrote against (its documentation is the one the "
        "handout links); the student's process gets stand-ins for its APIs that the grader's version "
        "removed (grader/sandbox/library_versions.py), each named in an ungraded note; empty: none",
        default="",
    )
    packages: tuple[str, ...] = setting(
        "top-level packages of the repository that the assignment's code imports besides its own folder "
        "(shipped in the Gradescope zip, staged for the student's process when a driver imports them)",
        default=(),
    )
    commands: tuple[str, ...] = setting(
        "modules of the assignment that add verbs to `python -m grader` (each a `register(subparsers)`, "
        "grader/commands/__init__.py), such as the one that fills its model caches",
        default=(),
    )
    tolerances: str = setting(
        "`module:NAME` of the assignment's record of [tolerances]: a subclass of grader.table.Tolerances "
        "whose fields are its keys; empty: the engine's, which holds none",
        default="",
    )
    profile: str = setting(
        "`module:NAME` of the assignment's record of [profiles.NAME]: a subclass of grader.table.Profile "
        "whose fields add to the name and device; empty: the engine's",
        default="",
    )
    forwarded_test: str = setting(
        "the test a live forward grades on the course's GPU cluster while Gradescope grades on the CPU "
        "(grader/cluster/forward.py): the notebook of its section is sent; empty: no forward",
        default="",
    )
    leaderboard: str = setting(
        "the name of the forwarded test's entry on Gradescope's leaderboard, as its check posts it; "
        "empty: the forward posts none",
        default="",
    )
    gpu_regrade: bool = setting(
        "the staff regrade on a GPU after the deadline what the CPU graded on a stand-in (grader batch "
        "--slurm --profile full): the stand-in's result of the forwarded test then says so; leave false "
        "unless that regrade will run",
        default=False,
    )


@dataclass(frozen=True, kw_only=True)
class SectionSpec:
    """``[sections.N]``: one notebook of the assignment, and everything the engine needs to know of it.

    The engine reads nothing of an assignment but this: what is graded in the notebook, the rules its
    answers keep to, the code of the assignment its student process runs, and the resources the
    section's checks and notebook load are all declared here, by value or as ``module:NAME``."""

    number: int = keyed("the section's number, the N of [sections.N]")
    file: str = setting("the notebook's name without suffix, as students upload it (HW1)")
    title: str = setting("the section's title")
    graded_part: str = setting(
        "the last numbered part of the notebook that is graded (2.1): the graded code ends at the first "
        "heading numbered past it in the same section (grader/intake/sections.py); every test of the "
        "section is numbered within it"
    )
    answers: tuple[str, ...] = setting("names the student defines; checks read them", default=())
    allowlist: str = setting(
        "`module:NAME` of the allowlist that the code each answer reaches must keep to "
        "(grader/reach_rules.py); empty: no allowlist, only the forging constructs are refused",
        default="",
    )
    stand_ins: bool = setting(
        "the student's process finds the profile's model and data under the names the notebook loads "
        "them by (the section's `resources` say which), so its loading cells run",
        default=False,
    )
    checked_by: tuple[str, ...] = setting(
        "names the notebook's own check cells call (its test helpers): the graded part of the notebook "
        "ends after the last top-level statement that calls one (grader/intake/sections.py)",
        default=(),
    )
    old_name: str = setting(
        "an answer's name in an older version of the notebook, still read: its first top-level binding "
        "as the first of `old_name_means`, its next as the second, and so on (grader/intake/slicer.py), "
        "when the file binds none of those; empty: none",
        default="",
    )
    old_name_means: tuple[str, ...] = setting("the answers `old_name` is read as, in order", default=())
    drivers: str = setting(
        "the package of the section's drivers, the assignment's code that checks run in the student's "
        "process (staged for it, and its PRELOADED modules imported ahead); empty: none",
        default="",
    )
    resources: str = setting(
        "`module:NAME` of the section's resources (grader/section_resources.py): the model folder the "
        "student's process may read, its stand-ins, what preflight checks; empty: none",
        default="",
    )

    @property
    def fixture(self) -> str:
        """The name of the pytest fixture that hands checks this section (``hw1`` for HW1)."""
        return self.file.lower()

    @property
    def legacy(self) -> tuple[str, tuple[str, ...]] | None:
        """``old_name`` and the answers it means, as the intake reads them; None when there is none."""
        return (self.old_name, self.old_name_means) if self.old_name else None

    @property
    def last_graded_part(self) -> int:
        """The M of ``graded_part`` N.M."""
        return int(self.graded_part.split(".")[1])


@dataclass(frozen=True, kw_only=True)
class TestRow:
    """``[[tests]]``: one graded test."""

    __test__ = False  # pytest: a table row, not a test class

    number: str = setting("the test's number, unique, starting with its section's number (4.2.1)")
    section: int = setting("the number of the section whose notebook the test grades")
    name: str = setting("the name students see on Gradescope")
    points: float = setting("the test's points")
    visibility: str = setting(
        "public: shown on Gradescope at once and shipped in the students' checker; hidden: shown "
        "after grades are published, never shipped",
        choices=tuple(VISIBILITIES),
    )
    timeout: float = setting("seconds the check may run before it is stopped", positive=True)
    extra_credit: bool = setting("the points count on top of the maximum (max_score 0)", default=False)
    answers: tuple[str, ...] = setting(
        "names the test reads from the notebook besides its section's answers (a new question's)", default=()
    )

    @property
    def gradescope_visibility(self) -> str:
        return VISIBILITIES[self.visibility]

    @property
    def max_score(self) -> float:
        """Extra-credit tests add to the score without raising the maximum."""
        return 0.0 if self.extra_credit else self.points


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    """``[sandbox]``: the limits of the child process that runs the student's code."""

    load_timeout: float = setting("seconds to import a section's definitions", default=90.0, positive=True)
    intake_timeout: float = setting(
        "seconds the intake may take in all (finding, reading, parsing and slicing every notebook file), "
        "shared between the files; a file that needs more than its share is graded as unreadable",
        default=30.0,
        positive=True,
    )
    call_timeout: float = setting(
        "default seconds for one call into student code", default=20.0, positive=True
    )
    cpu_seconds: int = setting("RLIMIT_CPU of the child", default=1800, positive=True)
    memory_gb: float = setting(
        "RLIMIT_AS of the child on CPU-only runs (CUDA needs a larger address space)",
        default=12.0,
        positive=True,
    )
    output_kept_bytes: int = setting(
        "how much of the child's stdout/stderr is kept for the log", default=65536, positive=True
    )
    max_reply_mb: int = setting(
        "largest reply accepted from the child, trained weights included", default=2048, positive=True
    )
    max_file_mb: float = setting(
        "largest submitted file the grader reads; a larger one is refused, by name",
        default=20.0,
        positive=True,
    )
    file_size_mb: int = setting(
        "RLIMIT_FSIZE of the child: the largest file it may write", default=1024, positive=True
    )


@dataclass(frozen=True, kw_only=True)
class Tolerances:
    """``[tolerances]``: how far a student's result may be from the grader's. The engine knows no
    tolerance: an assignment declares its own as fields of a subclass (``[assignment] records``)."""


@dataclass(frozen=True, kw_only=True)
class Profile:
    """``[profiles.NAME]``: one way of grading (where the grader computes, and what the assignment's
    checks load and train with: its keys are fields of a subclass the assignment declares,
    ``[assignment] records``). ``grade --profile NAME`` picks one; ``offline`` is the default."""

    name: str = keyed("the profile's name, the NAME of [profiles.NAME]")
    device: str = setting(
        "where the grader's tensors live and the checks compute; cuda lets checks run student code on a GPU",
        default="cpu",
        choices=DEVICES,
    )


@dataclass(frozen=True, kw_only=True)
class AssignmentTable:
    """The whole table, validated."""

    assignment: AssignmentInfo
    sections: dict[int, SectionSpec]
    tests: tuple[TestRow, ...]
    sandbox: SandboxSettings
    tolerances: Tolerances
    profiles: dict[str, Profile]

    @property
    def title(self) -> str:
        return self.assignment.title

    def answers(self, section: int) -> tuple[str, ...]:
        """Every name the grader reads from a section's notebook: the section's and its tests' answers."""
        names = [*self.sections[section].answers]
        names += [name for row in self.tests if row.section == section for name in row.answers]
        return tuple(dict.fromkeys(names))

    def answers_by_file(self) -> dict[str, tuple[str, ...]]:
        """Each section's notebook name with every name the grader reads from it."""
        return {section.file: self.answers(number) for number, section in self.sections.items()}

    def test(self, number: str) -> TestRow:
        for row in self.tests:
            if row.number == number:
                return row
        raise KeyError(number)

    def forwarded(self) -> tuple[TestRow, SectionSpec]:
        """The test a live forward grades and its section; TableError when the table names none."""
        if not self.assignment.forwarded_test:
            raise TableError("the table names no forwarded_test: this assignment has no live forward")
        row = self.test(self.assignment.forwarded_test)
        return row, self.sections[row.section]

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


# ---------------------------------------------------------------- reading and validating

Record = TypeVar("Record")
Path_ = tuple[str, ...]


class _Lines:
    """Where each key of a TOML file sits, to name the line in errors (tomllib keeps no positions)."""

    HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=')

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[Path_, int] = {}
        current: Path_ = ()
        arrays: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self.HEADER.match(line)
            if header:
                parts = tuple(a or b for a, b in re.findall(r'"([^"]*)"|([^.\s"]+)', header.group(2)))
                if header.group(1) == "[[":
                    arrays[header.group(2)] = arrays.get(header.group(2), -1) + 1
                    parts = (*parts, str(arrays[header.group(2)]))
                current = parts
                self.lines.setdefault(current, number)
                continue
            key = self.KEY.match(line)
            if key:
                self.lines.setdefault((*current, key.group(1).strip('"')), number)

    def where(self, path: Path_) -> str:
        """``file:line`` of the key, or of the nearest table above it the file has."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return f"{self.path}:{self.lines[path[:end]]}"
        return str(self.path)


class _Reader:
    """Builds the dataclasses from the parsed TOML, raising TableError with file, line and key."""

    def __init__(self, sources: list[tuple[_Lines, dict[str, Any]]]) -> None:
        self.sources = sources
        self.labels: dict[Path_, str] = {}

    def fail(self, path: Path_, problem: str) -> typing.NoReturn:
        label = self.labels.get(path[:2])
        shown = ".".join((label, *path[2:]) if label else path)
        places = [lines.where(path) for lines, raw in self.sources if _defines(raw, path)]
        place = places[-1] if places else self.sources[0][0].where(path)
        raise TableError(f"{place}: {shown}: {problem}")

    def record(self, cls: type[Record], values: Any, path: Path_, **keyed_values: Any) -> Record:
        if not isinstance(values, Mapping):
            self.fail(path, f"expected a table of keys, got {_kind(values)}")
        hints = typing.get_type_hints(cls)
        known = {item.name: item for item in fields(cls)}  # type: ignore[arg-type]
        settable = [name for name, item in known.items() if not item.metadata.get("keyed")]
        for key in values:
            if key not in settable:
                close = [name for name in settable if _similar(name, key)]
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.fail((*path, key), f"unknown key; {hint}the keys are: {', '.join(settable)}")
        arguments = dict(keyed_values)
        for name in settable:
            item = known[name]
            if name in values:
                arguments[name] = self.value(hints[name], values[name], (*path, name), item.metadata)
            elif item.default is MISSING:
                self.fail((*path, name), f"missing; it is required ({item.metadata['description']})")
        return cls(**arguments)

    def value(self, kind: Any, value: Any, path: Path_, rules: Mapping[str, Any]) -> Any:
        converted = self._convert(kind, value, path)
        if rules.get("choices") and converted not in rules["choices"]:
            self.fail(path, f"{value!r} is not one of {', '.join(map(repr, rules['choices']))}")
        if rules.get("positive") and not converted > 0:
            self.fail(path, f"must be greater than 0, not {value!r}")
        return converted

    def _convert(self, kind: Any, value: Any, path: Path_) -> Any:
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if (
            kind in (int, str, bool)
            and isinstance(value, kind)
            and (kind is bool or not isinstance(value, bool))
        ):
            return value
        if typing.get_origin(kind) is tuple and isinstance(value, list):
            if all(isinstance(entry, str) for entry in value):
                return tuple(value)
            self.fail(path, "expected a list of strings")
        wanted = kind.__name__ if isinstance(kind, type) else "a list of strings"
        self.fail(path, f"expected {_ARTICLES.get(wanted, wanted)}, got {_kind(value)} {value!r}")


_ARTICLES = {"float": "a number", "int": "a whole number", "str": "a string", "bool": "true or false"}


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "a table" if isinstance(value, Mapping) else type(value).__name__
    )


def _similar(known: str, typed: str) -> bool:
    return bool(difflib.get_close_matches(typed, [known], n=1, cutoff=0.75))


def _defines(raw: Mapping[str, Any], path: Path_) -> bool:
    node: Any = raw
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _parse(path: Path) -> tuple[_Lines, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TableError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TableError(f"{path}: not valid TOML: {error}") from None
    return _Lines(path, text), raw


TOP_LEVEL = ("assignment", "sections", "tests", "sandbox", "tolerances", "profiles")
OVERLAYABLE = ("assignment", "sandbox", "tolerances", "profiles")


def _apply_overlay(reader: _Reader, base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The base table with the overlay's keys set; tests are changed by number, never added."""
    merged = {key: value for key, value in base.items()}
    for key, value in overlay.items():
        if key == "tests":
            merged["tests"] = _overlay_tests(reader, base.get("tests", []), value)
        elif key in OVERLAYABLE and isinstance(value, Mapping):
            merged[key] = _merge(base.get(key, {}), value)
        else:
            reader.fail((key,), f"an overlay may change only {', '.join(OVERLAYABLE)} and tests")
    return merged


def _merge(base: Any, overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base) if isinstance(base, Mapping) else {}
    for key, value in overlay.items():
        both_tables = isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
        merged[key] = _merge(merged[key], value) if both_tables else value
    return merged


def _overlay_tests(reader: _Reader, rows: Any, changes: Any) -> list[Any]:
    if not isinstance(changes, Mapping):
        reader.fail(("tests",), 'an overlay changes tests by number: [tests."4.2.1"]')
    by_number = {str(row.get("number")): index for index, row in enumerate(rows) if isinstance(row, Mapping)}
    merged = list(rows)
    for number, change in changes.items():
        if number not in by_number:
            reader.fail(("tests", number), "the base table has no test with this number")
        if not isinstance(change, Mapping) or "number" in change:
            reader.fail(("tests", number), "expected a table of the test's fields (its number stays)")
        merged[by_number[number]] = _merge(rows[by_number[number]], change)
    return merged


def courses(courses_dir: Path = COURSES_DIR) -> list[str]:
    """The course variants there are overlays for."""
    return sorted(path.stem for path in courses_dir.glob("*.toml"))


def load_table(path: Path = TABLE_PATH, course: str | None = None) -> AssignmentTable:
    """Parse and validate the table (with the course's overlay, if any); raise TableError naming the key.

    ``course`` None means the ``A2_COURSE`` environment variable, or the base table when it is unset.
    """
    if path == TABLE_PATH and LOCATION_PROBLEM:
        raise TableError(LOCATION_PROBLEM)
    base = _parse(path)
    sources = [base]
    course = course if course is not None else os.environ.get(COURSE_VARIABLE) or None
    raw = base[1]
    if course is not None:
        overlay_path = path.with_name("courses") / f"{course}.toml"
        if not overlay_path.is_file():
            known = ", ".join(courses(overlay_path.parent)) or "none"
            raise TableError(f"no course {course!r}: {overlay_path} does not exist (courses: {known})")
        overlay = _parse(overlay_path)
        sources.append(overlay)
        raw = _apply_overlay(_Reader([overlay]), raw, overlay[1])
    return _build(_Reader(sources), raw)


def notebook_names() -> tuple[str, ...]:
    """The assignment's notebooks, as the table names them; none when the table cannot be read, so that
    a help text that names them still prints (and the command then says what is wrong)."""
    try:
        return tuple(section.file for section in load_table().sections.values())
    except (TableError, OSError):
        return ()


def _build(reader: _Reader, raw: dict[str, Any]) -> AssignmentTable:
    for key in raw:
        if key not in TOP_LEVEL:
            reader.fail((key,), f"unknown section; the table has: {', '.join(TOP_LEVEL)}")
    for key in ("assignment", "sections", "tests", "profiles"):
        if key not in raw:
            reader.fail((key,), "missing; the table needs it")
    sections = _sections(reader, raw["sections"])
    tests = _tests(reader, raw["tests"], sections)
    profiles_raw = raw["profiles"]
    if not isinstance(profiles_raw, Mapping) or not profiles_raw:
        reader.fail(("profiles",), "expected at least one [profiles.NAME]")
    assignment = reader.record(AssignmentInfo, raw["assignment"], ("assignment",))
    tolerances = _record_type(reader, "tolerances", assignment.tolerances, Tolerances)
    profile = _record_type(reader, "profile", assignment.profile, Profile)
    if assignment.forwarded_test and assignment.forwarded_test not in {row.number for row in tests}:
        reader.fail(
            ("assignment", "forwarded_test"), f"{assignment.forwarded_test} is not a test of the table"
        )
    return AssignmentTable(
        assignment=assignment,
        sections=sections,
        tests=tests,
        sandbox=reader.record(SandboxSettings, raw.get("sandbox", {}), ("sandbox",)),
        tolerances=reader.record(tolerances, raw.get("tolerances", {}), ("tolerances",)),
        profiles={
            name: reader.record(profile, values, ("profiles", name), name=name)
            for name, values in profiles_raw.items()
        },
    )


def _record_type(reader: _Reader, key: str, reference: str, base: type[Record]) -> type[Record]:
    """The record class `[assignment] key` names (a subclass of `base`), or `base` when it names none."""
    from grader.declarations import NotDeclared, resolve

    if not reference:
        return base
    try:
        found = resolve(reference)
    except NotDeclared as error:
        reader.fail(("assignment", key), str(error))
    if not (isinstance(found, type) and issubclass(found, base)):
        reader.fail(("assignment", key), f"{reference!r} is not a subclass of grader.table.{base.__name__}")
    return found


def _sections(reader: _Reader, raw: Any) -> dict[int, SectionSpec]:
    if not isinstance(raw, Mapping) or not raw:
        reader.fail(("sections",), "expected at least one [sections.N]")
    sections = {}
    for key, values in raw.items():
        if not key.isdigit():
            reader.fail(("sections", key), "a section is named by its number: [sections.1]")
        section = reader.record(SectionSpec, values, ("sections", key), number=int(key))
        if not re.fullmatch(rf"{section.number}\.[1-9][0-9]*", section.graded_part):
            reader.fail(
                ("sections", key, "graded_part"),
                f"expected the number of a part of section {section.number}, such as {section.number}.1",
            )
        if bool(section.old_name) != bool(section.old_name_means):
            reader.fail(("sections", key, "old_name"), "old_name and old_name_means go together")
        sections[int(key)] = section
    files = [section.file.lower() for section in sections.values()]
    if len(set(files)) != len(files):
        reader.fail(("sections",), "two sections have the same file")
    return dict(sorted(sections.items()))


def _tests(reader: _Reader, raw: Any, sections: dict[int, SectionSpec]) -> tuple[TestRow, ...]:
    if not isinstance(raw, list) or not raw:
        reader.fail(("tests",), "expected [[tests]] entries")
    rows: list[TestRow] = []
    for index, values in enumerate(raw):
        path = ("tests", str(index))
        if isinstance(values, Mapping) and "number" in values:
            reader.labels[path] = f"tests[{values['number']}]"
        row = reader.record(TestRow, values, path)
        if row.section not in sections:
            reader.fail((*path, "section"), f"test {row.number}: section {row.section} is not defined")
        if not row.number.startswith(f"{row.section}."):
            reader.fail(
                (*path, "number"), f"test {row.number} must start with its section's number {row.section}."
            )
        part = row.number.split(".")[1]
        graded = sections[row.section].graded_part
        if not part.isdigit() or int(part) > sections[row.section].last_graded_part:
            reader.fail(
                (*path, "number"),
                f"test {row.number} lies past section {row.section}'s graded part {graded}: its code would "
                f"not be graded. Number it within {graded}, or raise the section's graded_part",
            )
        if row.points < 0:
            reader.fail((*path, "points"), f"test {row.number}: points cannot be negative")
        if row.number in {seen.number for seen in rows}:
            reader.fail((*path, "number"), f"duplicate test number {row.number}")
        rows.append(row)
    return tuple(rows)
