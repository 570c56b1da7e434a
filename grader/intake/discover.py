"""Find A2S1/A2S2/A2S3 in a submission folder, whatever Gradescope or Colab called them.

Students upload `A2S1.py`, `A2S1 (1).py`, `a2s1.py`, `copy_of_a2s1.py` (Colab's name for a copied
notebook), an `.ipynb` instead, or a folder such as `submission/hw2/A2S1.py`. We accept every one of
these and choose deterministically when several candidates exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".ipynb")
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}


@dataclass(frozen=True)
class Found:
    """The file chosen for one notebook, and the other candidates that were passed over."""

    stem: str
    path: Path | None
    passed_over: tuple[Path, ...] = field(default_factory=tuple)


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|[^0-9a-z]){re.escape(stem.lower())}(?:[^0-9]|$)")


def _rank(path: Path, root: Path, stem: str) -> tuple[int, int, int, str]:
    name = path.stem.lower()
    exact = 0 if name == stem.lower() else 1 if re.fullmatch(rf"{stem.lower()}\s*\(\d+\)", name) else 2
    return (exact, SUFFIXES.index(path.suffix.lower()), len(path.relative_to(root).parts), str(path))


def names_notebook(path: Path, stem: str) -> bool:
    """Whether the file name could be the notebook `stem` (e.g. `copy_of_a2s1 (2).ipynb` for A2S1)."""
    return path.suffix.lower() in SUFFIXES and bool(_pattern(stem).search(path.stem.lower()))


def candidates(root: Path, stem: str) -> list[Path]:
    """Every file under root that could be the notebook `stem`, best first."""
    found = [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part in IGNORED_PARTS or part.startswith(".") for part in path.relative_to(root).parts)
        and names_notebook(path, stem)
    ]
    return sorted(found, key=lambda path: _rank(path, root, stem))


def discover(root: Path, stems: list[str]) -> dict[str, Found]:
    """Map each notebook stem (e.g. "A2S1") to the file chosen for it, or to None if absent."""
    result = {}
    for stem in stems:
        options = candidates(root, stem)
        result[stem] = Found(stem, options[0] if options else None, tuple(options[1:]))
    return result
