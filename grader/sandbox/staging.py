"""What the student's process may read: a staged copy of the modules it imports, and nothing of ours.

Every entry point (`grade`, `batch`, the students' checker run as root, Gradescope's run_autograder)
goes through GradingSession, which stages once per run:

- `Stage`: a root-owned, read-only copy of the import closure of the child runtime and the drivers
  (grader/import_closure.py computes it), in a fresh temporary folder. The child puts it first on
  its path, so it never needs to read the repository at all.
- When the launcher can build a mount namespace (grader/sandbox/namespace.py), the child's root is
  a new, empty one holding the system folders, the interpreter, the stage, the profile's model
  folder and its own scratch folder; nothing else exists for it.
- Where it cannot (a container without CAP_SYS_ADMIN), `hide_except` makes the rest of the
  repository unreachable by permissions: every folder on the way to what the child needs may only
  be traversed (not listed) by others, and everything beside that path is readable by its owner
  only. Either way the same tests pass.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grader.import_closure import import_closure

REPO_ROOT = Path(__file__).resolve().parents[2]
# Others may traverse these folders but not list them; files beside the kept path lose every bit.
TRAVERSE_ONLY = 0o711
OWNER_ONLY_MASK = ~0o077 & 0o7777
#: Links followed one by one before giving up on a chain (the kernel stops at 40).
MAX_LINK_HOPS = 40


def runtime_modules(drivers: Sequence[str] = (), root: Path = REPO_ROOT) -> set[Path]:
    """The source files the student's process imports: the warm template it is forked from (with the
    child runtime), every module of the `drivers` packages the sections declare, and what they import."""
    modules = [
        f"{package}.{path.stem}" if path.stem != "__init__" else package
        for package in drivers
        for path in sorted((root / package.replace(".", "/")).glob("*.py"))
    ]
    return import_closure(["grader.sandbox.fork_server", *modules], root)


class Stage:
    """A root-owned, world-readable, read-only copy of the runtime modules, removed by `remove`."""

    def __init__(self, drivers: Sequence[str] = (), root: Path = REPO_ROOT) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="a2grader-stage-"))
        self.code = self.path / "code"
        for source in sorted(runtime_modules(drivers, root)):
            target = self.code / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(0o444)
        for folder in (self.path, *(p for p in self.code.rglob("*") if p.is_dir()), self.code):
            folder.chmod(0o555)

    def add_folder(self, name: str, files: dict[str, str]) -> Path:
        """A read-only folder of `files` beside the staged code, which the child may read too."""
        folder = self.code / name
        self.code.chmod(0o755)
        try:
            folder.mkdir()
            for filename, text in files.items():
                (folder / filename).write_text(text)
                (folder / filename).chmod(0o444)
            folder.chmod(0o555)
        finally:
            self.code.chmod(0o555)
        return folder

    def remove(self) -> None:
        for folder in (self.path, *(p for p in self.path.rglob("*") if p.is_dir())):
            folder.chmod(0o755)
        shutil.rmtree(self.path, ignore_errors=True)


def interpreter_paths() -> list[Path]:
    """What the child's interpreter needs besides the system folders: the virtual environment (or the
    installation prefix) and the real interpreter, each with every link on the way to it (a `.venv`
    that links to a link to the real folder is read through each of them)."""
    paths = [*_links_to(Path(sys.prefix)), Path(sys.executable).resolve().parent]
    return list(dict.fromkeys(paths))


def _links_to(path: Path) -> list[Path]:
    """`path`, each place its chain of symbolic links passes through, and where it ends."""
    chain = [path]
    while chain[-1].is_symlink() and len(chain) <= MAX_LINK_HOPS:
        target = Path(os.readlink(chain[-1]))
        chain.append(target if target.is_absolute() else chain[-1].parent / target)
    return [*chain, path.resolve()]


def hide_except(top: Path, keep: list[Path]) -> list[Path]:
    """Make everything under `top` unreadable to others except the paths in `keep` (and the folders
    leading to them, which become traverse-only). Returns the entries it closed. Symbolic links are
    left alone (their targets' permissions decide). Only meaningful when run as root for a sandbox
    user who owns none of it."""
    top = Path(top)
    keep_paths = {Path(p) for p in keep} | {Path(p).resolve() for p in keep}
    closed: list[Path] = []
    if not any(top == p or top in p.parents for p in keep_paths):
        _close(top, closed)
        return closed
    pending = [top]
    while pending:
        folder = pending.pop()
        _traverse_only(folder)
        for entry in folder.iterdir():
            if entry.is_symlink() or entry in keep_paths:
                continue
            if any(entry in p.parents for p in keep_paths):
                pending.append(entry)
            else:
                _close(entry, closed)
    return closed


def _traverse_only(folder: Path) -> None:
    mode = stat.S_IMODE(folder.lstat().st_mode)
    folder.chmod((mode & ~0o066) | 0o011)


def _close(entry: Path, closed: list[Path]) -> None:
    mode = stat.S_IMODE(entry.lstat().st_mode)
    if mode & 0o077:
        entry.chmod(mode & OWNER_ONLY_MASK)
        closed.append(entry)
