"""The assignment table: typed, validated when read, errors that name the file, line and key."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import shutil
from pathlib import Path

import pytest

from grader.commands.grade import parse_sections
from grader.section_resources import declared_resources, section_resources
from grader.table import (
    TABLE_PATH,
    AssignmentInfo,
    Profile,
    SandboxSettings,
    SectionSpec,
    TableError,
    TestRow,
    Tolerances,
    courses,
    load_table,
)

BASE = TABLE_PATH.read_text(encoding="utf-8")


@pytest.fixture
def table_copy(tmp_path: Path) -> Path:
    """A copy of the table and its course overlays to break."""
    shutil.copytree(TABLE_PATH.parent / "courses", tmp_path / "courses")
    path = tmp_path / "assignment.toml"
    path.write_text(BASE, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def broken(path: Path, old: str, new: str) -> str:
    """Replace the first `old` with `new` in the table at `path`; the message load_table raises."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(TableError) as raised:
        load_table(path)
    return str(raised.value)


def test_every_section_of_the_file_is_typed() -> None:
    table = load_table()
    assert isinstance(table.assignment, AssignmentInfo)
    assert isinstance(table.sandbox, SandboxSettings) and table.sandbox.load_timeout == 90
    assert isinstance(table.tolerances, Tolerances) and table.tolerances.query_error == 0.05
    assert all(isinstance(profile, Profile) for profile in table.profiles.values())
    assert table.profile("offline").learning_rate == 1e-3 and table.profile("full").device == "cuda"
    assert [section.fixture for section in table.sections.values()] == ["a2s1", "a2s2", "a2s3"]
    assert all(isinstance(row.timeout, float) for row in table.tests)


@pytest.mark.parametrize(
    "record", [AssignmentInfo, SectionSpec, TestRow, SandboxSettings, Tolerances, Profile]
)
def test_every_field_says_what_it_means(record: type) -> None:
    assert all(item.metadata.get("description") for item in dataclasses.fields(record))


def test_a_typo_names_the_file_line_key_and_the_likely_key(table_copy: Path) -> None:
    message = broken(table_copy, "load_timeout = 90", "load_timout = 90")
    assert message.startswith(f"{table_copy}:{line_of(BASE, 'load_timeout = 90')}: sandbox.load_timout:")
    assert "did you mean 'load_timeout'?" in message


def test_a_wrong_type_in_a_test_row_names_the_test(table_copy: Path) -> None:
    message = broken(
        table_copy, 'points = 2.5\nvisibility = "public"', 'points = "2.5"\nvisibility = "public"'
    )
    assert message.startswith(f"{table_copy}:{line_of(BASE, 'points = 2.5')}: tests[1.2.1].points:")
    assert "expected a number, got a string '2.5'" in message


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('visibility = "hidden"', 'visibility = "secret"', "tests[2.1.1].visibility: 'secret' is not one of"),
        ('device = "cuda"', 'device = "gpu"', "profiles.full.device: 'gpu' is not one of 'cpu', 'cuda'"),
        ("threshold = 0.90\n", "", "profiles.offline.threshold: missing; it is required"),
        ("call_timeout = 20", "call_timeout = 0", "sandbox.call_timeout: must be greater than 0"),
        ('number = "2.1.2"', 'number = "2.1.1"', "tests[2.1.1].number: duplicate test number 2.1.1"),
        ('number = "2.1.2"', 'number = "3.1.9"', "test 3.1.9 must start with its section's number 2."),
        ("[tolerances]", "[tolerance]", "tolerance: unknown section"),
        ("title =", "title = [", "not valid TOML"),
        ('number = "2.1.2"', 'number = "2.2.1"', "test 2.2.1 lies past section 2's graded part 2.1"),
        (
            'graded_part = "2.1"',
            'graded_part = "3.1"',
            "sections.2.graded_part: expected the number of a part",
        ),
        ('graded_part = "2.1"\n', "", "sections.2.graded_part: missing; it is required"),
        (
            'tolerances = "a2.records:A2Tolerances"',
            'tolerances = "a2.records:A2Profile"',
            "assignment.tolerances: 'a2.records:A2Profile' is not a subclass of grader.table.Tolerances",
        ),
        (
            'profile = "a2.records:A2Profile"',
            'profile = "a2.records:Nothing"',
            "assignment.profile: 'a2.records:Nothing' cannot",
        ),
        (
            'old_name_means = ["key141", "key142"]\n',
            "",
            "sections.1.old_name: old_name and old_name_means go together",
        ),
        (
            'forwarded_test = "3.5.1"',
            'forwarded_test = "3.9.9"',
            "assignment.forwarded_test: 3.9.9 is not a test",
        ),
    ],
)
def test_each_mistake_is_a_table_error_that_says_what_is_wrong(
    table_copy: Path, old: str, new: str, says: str
) -> None:
    assert says in broken(table_copy, old, new)


def test_the_517_overlay_requires_1_4_and_changes_nothing_else() -> None:
    base, cse517 = load_table(), load_table(course="517")
    assert [row.number for row in base.tests if row.extra_credit] == ["1.4.1", "1.4.2"]
    assert not any(row.extra_credit for row in cse517.tests)
    assert cse517.assignment.course == "CSE 517" and load_table(course="447").assignment.course == "CSE 447"
    unchanged = [dataclasses.replace(row, extra_credit=False) for row in base.tests] == list(cse517.tests)
    assert unchanged and (base.sandbox, base.tolerances, base.profiles) == (
        cse517.sandbox,
        cse517.tolerances,
        cse517.profiles,
    )
    assert sum(row.max_score for row in cse517.tests) == sum(row.max_score for row in base.tests) + 5
    assert courses() == ["447", "517"]


def test_the_course_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2_COURSE", "517")
    assert load_table().assignment.course == "CSE 517"
    monkeypatch.setenv("A2_COURSE", "999")
    with pytest.raises(TableError, match=r"no course '999'.*courses: 447, 517"):
        load_table()


def test_an_overlay_cannot_add_tests_and_names_its_own_line(table_copy: Path) -> None:
    overlay = table_copy.parent / "courses" / "517.toml"
    overlay.write_text('[tests."1.9.9"]\nextra_credit = false\n', encoding="utf-8")
    with pytest.raises(TableError, match=rf"^{overlay}:1: tests.1.9.9: the base table has no test"):
        load_table(table_copy, course="517")
    overlay.write_text('[tests."1.4.1"]\nextra_credit = "no"\n', encoding="utf-8")
    with pytest.raises(TableError, match=r"tests\[1.4.1\].extra_credit: expected true or false"):
        load_table(table_copy, course="517")


def test_sections_on_the_command_line_are_the_table_s() -> None:
    assert parse_sections("1,3") == {1, 3}
    with pytest.raises(argparse.ArgumentTypeError, match="among 1,2,3"):
        parse_sections("4")


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ('resources = "a2.sections.s3.resources:NOT_THERE"', "cannot be loaded"),
        ('resources = "a2.sections.s3.resources:OFFLINE"', "is not a SectionResources (str)"),
        ('resources = "a2.sections.s3.resources"', "expected module:NAME"),
    ],
)
def test_a_declared_name_that_is_wrong_is_a_table_error(table_copy: Path, setting: str, says: str) -> None:
    text = table_copy.read_text(encoding="utf-8")
    table_copy.write_text(
        text.replace('resources = "a2.sections.s3.resources:SST2"', setting), encoding="utf-8"
    )
    with pytest.raises(TableError, match="sections.3.resources") as raised:
        section_resources(load_table(table_copy).sections[3])
    assert says in str(raised.value)


def test_every_declared_object_of_the_table_loads_as_its_kind() -> None:
    table = load_table()
    assert set(declared_resources(table)) == {3}
    offline = table.profile("offline")
    assert declared_resources(table)[3].is_stand_in(offline)
    assert not declared_resources(table)[3].is_stand_in(table.profile("full"))
    for section in table.sections.values():
        if section.drivers:
            assert importlib.import_module(section.drivers).__name__ == section.drivers
