"""Zips whose bytes depend only on the files in them, for everything that ships part of this repository.

The students' checker (handout/) and the Gradescope zip (gradescope/) are both rebuilt often; with
sorted entries, one fixed date and fixed modes, a rebuild from the same files gives the same bytes,
so an unchanged build changes nothing and a changed one shows exactly where.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

EXECUTABLE = 0o755
REGULAR = 0o644
FIXED_DATE = (2024, 1, 1, 0, 0, 0)


def write_reproducible_zip(
    target: Path | BinaryIO, entries: Mapping[str, Path | bytes], executables: Iterable[str] = ()
) -> None:
    """Zips `entries` (name in the zip -> file, or the bytes to store) into `target`: sorted, one
    fixed date, fixed modes, so the same files always give the same bytes."""
    executable = set(executables)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = (0o100000 | (EXECUTABLE if name in executable else REGULAR)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            source = entries[name]
            archive.writestr(info, source if isinstance(source, bytes) else source.read_bytes())
