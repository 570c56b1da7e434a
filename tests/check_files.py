"""A graded check file, imported the way the grader imports it (from its path), and what it declares.

Tests read the checks through their objects rather than their text: a question's number is declared
once, in the object its check's ``graded`` mark reads (``@pytest.mark.graded(SELECT_V0.number)``), so
only the imported module knows it.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
CHECKS = REPO / "a2" / "checks"
_loaded = itertools.count()


def import_check(path: Path) -> ModuleType:
    """The module of the check file at ``path``, freshly imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"check_files.{path.stem}_{next(_loaded)}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass of the module looks its annotations up there
    spec.loader.exec_module(module)
    return module


def graded_numbers(path: Path) -> set[str]:
    """The test numbers that the ``graded`` marks of the check file at ``path`` name."""
    return {
        str(mark.args[0])
        for value in vars(import_check(path)).values()
        for mark in getattr(value, "pytestmark", [])
        if callable(value) and mark.name == "graded"
    }
