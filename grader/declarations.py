"""The objects an assignment declares to the engine by name, as ``module:NAME`` in its table.

An allowlist, a section's resources: the engine imports none of an assignment's modules itself, it
loads what the table names. A name that does not import, or names something of the wrong kind, is
the table's mistake and is said as one (``TableError``), never a traceback in the middle of a run.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from grader.table import TableError

Declared = TypeVar("Declared")


def declared(reference: str, kind: type[Declared], setting: str) -> Declared:
    """The object `reference` (``module:NAME``) names, checked to be a `kind`; `setting` names the
    table key it came from, for the message."""
    module, _, name = reference.partition(":")
    if not module or not name:
        raise TableError(f"{setting} = {reference!r}: expected module:NAME")
    try:
        found: Any = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise TableError(f"{setting} = {reference!r} cannot be loaded: {error}") from None
    if not isinstance(found, kind):
        raise TableError(f"{setting} = {reference!r} is not a {kind.__name__} ({type(found).__name__})")
    return found
