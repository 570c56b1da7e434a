"""The three hashed locks agree with pyproject.toml's dependency groups and with one another."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from lockfiles import REQUIREMENTS, canonical, lock_pins

REPO = Path(__file__).resolve().parent.parent
GROUPS = tomllib.loads((REPO / "pyproject.toml").read_text())["dependency-groups"]


def direct_pins(group: str) -> dict[str, str]:
    """The group's own pins and those of the groups it includes."""
    pins: dict[str, str] = {}
    for item in GROUPS[group]:
        if isinstance(item, dict):
            pins.update(direct_pins(item["include-group"]))
        else:
            name, version = item.split("==")
            pins[canonical(name)] = version
    return pins


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_lock_pins_its_group_exactly_and_hashes_every_file(group: str) -> None:
    locked = lock_pins(group)
    assert direct_pins(group).items() <= locked.items(), "run `make lock`: the lock is out of date"
    text = (REQUIREMENTS / f"{group}.lock").read_text()
    assert text.count("==") == len(locked) and text.count("--hash=sha256:") >= len(locked)
    assert "+cpu" not in text, "torch must be pinned without a local label (tools/lock.sh says why)"


def test_locks_nest_with_one_version_per_package() -> None:
    runtime, handout, dev = lock_pins("runtime"), lock_pins("handout"), lock_pins("dev")
    assert runtime.items() <= handout.items() <= dev.items()
    assert not {"ruff", "mypy", "jupytext", "nbconvert", "ipykernel"} & runtime.keys(), (
        "the grading runtime (the Gradescope image) must not carry development or handout tools"
    )
