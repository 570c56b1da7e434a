"""Reading the hashed locks under requirements/ (pip-compile's format)."""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")


def canonical(name: str) -> str:
    """A distribution's name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(group: str) -> dict[str, str]:
    """Package name -> pinned version, for one group's lock."""
    text = (REQUIREMENTS / f"{group}.lock").read_text()
    return {canonical(m[1]): m[2] for line in text.splitlines() if (m := PIN.match(line))}
