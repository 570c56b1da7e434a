"""docs/table.md: the reference of a2/assignment.toml, rendered from the dataclasses that read it.

Each section of the table is a frozen dataclass of grader/table.py whose fields carry their type,
default, rules (``choices``, ``positive``) and description; ``load_table`` validates the file against
exactly those. Rendering the reference from them (rather than writing it by hand, or repeating the
descriptions as comments in assignment.toml) means the page lists every key the loader accepts, with
the default and the rules it applies, and cannot drift: `make handout` writes it and
tests/test_handout.py fails when the committed page differs from a fresh one. The page describes keys,
not the table's values (those stay in assignment.toml): adding or re-weighting a test changes no line
of it, so a new question remains three edits (docs/writing-checks.md).
"""

from __future__ import annotations

import json
import tomllib
import typing
from collections.abc import Iterator
from dataclasses import MISSING, Field, dataclass, fields
from typing import Any

from grader import table

TABLE_PAGE = "table.md"
SOURCE = "grader/table.py and the records the table names (a2/records.py)"
#: The words for each type a field may have; a field of another type stops the build (say it here).
TYPE_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "true/false",
    tuple[str, ...]: "list of strings",
}


class ReferenceError(RuntimeError):
    """The table's dataclasses hold something the page cannot render; the message names it."""


@dataclass(frozen=True)
class TableSection:
    """One section of the file: its TOML header, the dataclass of its entries, its name in the file."""

    name: str
    header: str
    record: type
    summary: str


def table_sections() -> list[TableSection]:
    """The sections of the table, in the order of ``AssignmentTable``'s fields.

    The header follows from the field's type, as ``load_table`` reads it: a record is one table
    (``[sandbox]``), a ``dict[int, …]`` is tables named by number (``[sections.N]``), a ``dict[str, …]``
    tables named by name (``[profiles.NAME]``), a ``tuple[…, ...]`` an array of tables (``[[tests]]``).
    """
    hints = typing.get_type_hints(table.AssignmentTable)
    loaded = table.load_table()
    # The assignment's own records of these sections (its `tolerances` and `profile`), or the engine's.
    declared = {"tolerances": type(loaded.tolerances), "profiles": type(next(iter(loaded.profiles.values())))}
    found = []
    for item in fields(table.AssignmentTable):
        kind = hints[item.name]
        origin, arguments = typing.get_origin(kind), typing.get_args(kind)
        if origin is dict and arguments[0] is int:
            header, record = f"[{item.name}.N]", arguments[1]
        elif origin is dict and arguments[0] is str:
            header, record = f"[{item.name}.NAME]", arguments[1]
        elif origin is tuple:
            header, record = f"[[{item.name}]]", arguments[0]
        elif isinstance(kind, type):
            header, record = f"[{item.name}]", kind
        else:
            raise ReferenceError(f"AssignmentTable.{item.name}: no header for a field of type {kind}")
        record = declared.get(item.name, record)
        found.append(TableSection(item.name, header, record, _summary(record, header)))
    return found


def _summary(record: type, header: str) -> str:
    """The dataclass's docstring without the header it starts with (``[sandbox]``: the limits …)."""
    doc = " ".join((record.__doc__ or "").split())
    if not doc:
        raise ReferenceError(f"{record.__name__} has no docstring to say what {header} is")
    prefix = f"``{header}``:"
    return doc.removeprefix(prefix).strip() if doc.startswith(prefix) else doc


def _type_name(record: type, item: Field[Any]) -> str:
    kind = typing.get_type_hints(record)[item.name]
    if kind not in TYPE_NAMES:
        raise ReferenceError(f"{record.__name__}.{item.name}: no words for the type {kind} (TYPE_NAMES)")
    return TYPE_NAMES[kind]


def toml_value(value: Any) -> str:
    """A default as it would be written in the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(entry) for entry in value) + "]"
    raise ReferenceError(f"no TOML for the default {value!r}")


def _rules(item: Field[Any]) -> str:
    rules = []
    if item.metadata.get("choices"):
        rules.append("one of " + ", ".join(f"`{toml_value(choice)}`" for choice in item.metadata["choices"]))
    if item.metadata.get("positive"):
        rules.append("greater than 0")
    return "; ".join(rules)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")


def _description(record: type, item: Field[Any]) -> str:
    description = " ".join(str(item.metadata.get("description", "")).split())
    if not description:
        raise ReferenceError(f"{record.__name__}.{item.name} has no description (grader/table.py)")
    return description


def _overlay_note(section: TableSection) -> str:
    if section.name in table.OVERLAYABLE:
        return "A course overlay may set any of these keys."
    if section.name == "tests":
        return (
            "A course overlay may change these fields, all but `number`, of a test the base table has, "
            'named by its number: `[tests."1.4.1"]`.'
        )
    return "A course overlay cannot change this section."


def section_lines(section: TableSection) -> Iterator[str]:
    """The page's part for one section: its header, what it is, then one row per key."""
    yield f"## `{section.header}`"
    yield ""
    yield f"{section.summary[:1].upper()}{section.summary[1:]} {_overlay_note(section)}"
    keyed = [item for item in fields(section.record) if item.metadata.get("keyed")]
    if keyed:
        named = "; ".join(f"`{item.name}`, {_description(section.record, item)}" for item in keyed)
        yield ""
        yield f"Given by the header, not by a key: {named}."
    yield ""
    yield "| key | type | default | rules | description |"
    yield "|---|---|---|---|---|"
    for item in fields(section.record):
        if item.metadata.get("keyed"):
            continue
        default = "required" if item.default is MISSING else f"`{toml_value(item.default)}`"
        cells = (
            f"`{item.name}`",
            _type_name(section.record, item),
            default,
            _rules(item),
            _description(section.record, item),
        )
        yield "| " + " | ".join(_cell(cell) for cell in cells) + " |"
    yield ""


def _overlay_keys(values: Any, prefix: str = "") -> Iterator[str]:
    """The dotted keys an overlay sets (``tests."1.4.1".extra_credit``)."""
    for key, value in values.items():
        name = key if key.replace("_", "").isalnum() else json.dumps(key)
        if isinstance(value, dict):
            yield from _overlay_keys(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def overlay_lines() -> Iterator[str]:
    """What a course overlay is and may change, and what each overlay there is sets."""
    overlayable = ", ".join(
        f"`{section.header}`" for section in table_sections() if section.name in table.OVERLAYABLE
    )
    yield "## Course overlays"
    yield ""
    yield (
        "The base table, `a2/assignment.toml`, is CSE 447's. Each course has an overlay, "
        "`a2/courses/<course>.toml`, holding only what that course grades differently: "
        '`load_table(course="517")`, or `A2_COURSE=517` in the grader\'s environment, reads the base table '
        "and applies the overlay over it, and the result is validated like the base table; with no course "
        "given, the base table is used as it is. An overlay may "
        f"set keys of {overlayable}, and may change fields of a test the base table already has, "
        'named by its number (`[tests."1.4.1"]`). It cannot add or remove tests or sections, nor change a '
        "test's number."
    )
    yield ""
    for course in table.courses():
        path = table.COURSES_DIR / f"{course}.toml"
        keys = ", ".join(f"`{key}`" for key in _overlay_keys(tomllib.loads(path.read_text(encoding="utf-8"))))
        yield f"- `a2/courses/{course}.toml` sets {keys or 'nothing'}"
    yield ""


def table_page() -> str:
    """docs/table.md."""
    lines = [
        f"<!-- Generated by `make handout` (`python -m grader handout`) from the dataclasses of {SOURCE}; "
        "edit the descriptions there, not this file. -->",
        "# The assignment table: every key of a2/assignment.toml",
        "",
        f"*Generated by `make handout` from {SOURCE}, which checks the table against exactly these keys.*",
        "",
        "`a2/assignment.toml` holds every number of the assignment: its tests and their points, "
        "visibilities and timeouts, the tolerances, the sandbox's limits and the profiles §3 trains "
        "under; no check hard-codes one. `load_table()` validates the whole file when it reads it: an "
        "unknown key, a missing required key, a value of the wrong type or one that breaks its rules is "
        "an error naming the file, the line and the key. Types are TOML's; a number may be written as "
        "an integer (`90` for `90.0`). A key whose default is given may be left out.",
        "",
        *overlay_lines(),
    ]
    for section in table_sections():
        lines += section_lines(section)
    return "\n".join(lines)
