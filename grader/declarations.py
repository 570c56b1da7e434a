"""The objects an assignment declares to the engine by name, as ``module:NAME`` in its table.

An allowlist, a section's resources, the records of its tolerances and profiles: the engine imports
none of an assignment's modules itself, it loads what the table names. A name that does not import,
or names something of the wrong kind, is the table's mistake and is said as one (``TableError``,
naming the key), never a traceback in the middle of a run.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from grader.table import TableError

Declared = TypeVar("Declared")


class NotDeclared(LookupError):
    """`module:NAME` names nothing that can be loaded; the message says why."""


def resolve(reference: str) -> object:
    """The object `reference` (``module:NAME``) names; raises NotDeclared."""
    module, _, name = reference.partition(":")
    if not module or not name:
        raise NotDeclared(f"{reference!r}: expected module:NAME")
    try:
        found: object = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise NotDeclared(f"{reference!r} cannot be loaded: {error}") from None
    return found


def declared(reference: str, kind: type[Declared], setting: str) -> Declared:
    """The object `reference` names, checked to be a `kind`; `setting` names the table key it came
    from, for the message."""
    try:
        found = resolve(reference)
    except NotDeclared as error:
        raise TableError(f"{setting} = {error}") from None
    if not isinstance(found, kind):
        raise TableError(f"{setting} = {reference!r} is not a {kind.__name__} ({type(found).__name__})")
    return found
