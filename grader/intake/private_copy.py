"""The first thing a grading run does: copy the submission into a private, root-owned folder.

Everything after (discovery, parsing, the sandbox) reads only this copy, so nothing the student
controls can change under the grader, and nothing it names can make the grader read elsewhere:

- a symbolic link is never followed (`HW2.py -> /etc/shadow`, or -> the hidden checks): it is
  refused, by name;
- only regular files are copied; a FIFO, socket or device is refused, by name;
- each file is opened with O_NOFOLLOW relative to its already-open folder, checked again on the open
  descriptor, and read up to the table's per-file cap (`[sandbox] max_file_mb`): a larger file is
  refused with a message saying so, and never read whole into memory;
- the walk is iterative and bounded (depth and entry count), so no tree can exhaust the grader.

The copy is 0700, owned by the grader's user: no sandbox uid can read it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.cleanup import remove_tree

MAX_DEPTH = 16
MAX_ENTRIES = 5000
CHUNK = 1 << 20
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class RefusedFile:
    """A file of the submission that was not copied, and why (in the student's terms)."""

    path: Path
    reason: str

    def message(self) -> str:
        return f"{self.path.as_posix()} {self.reason}"


@dataclass
class PrivateCopy:
    """Where the copy is, and what was left out."""

    root: Path
    refused: list[RefusedFile] = field(default_factory=list)

    def remove(self) -> None:
        remove_tree(self.root)


def copy_submission(source: Path, max_file_bytes: int) -> PrivateCopy:
    """Copy the regular files under `source` into a new private folder (see the module's rules)."""
    copy = PrivateCopy(Path(tempfile.mkdtemp(prefix="a2grader-submission-")))
    os.chmod(copy.root, 0o700)
    top = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    pending: list[tuple[int, Path]] = [(top, Path())]
    entries = 0
    try:
        while pending:
            folder_fd, relative = pending.pop()
            try:
                for entry in sorted(os.scandir(folder_fd), key=lambda item: item.name):
                    entries += 1
                    if entries > MAX_ENTRIES:
                        reason = f"was not read: the submission holds more than {MAX_ENTRIES} files"
                        copy.refused.append(RefusedFile(relative / entry.name, reason))
                        return copy
                    try:
                        child = _copy_entry(folder_fd, entry.name, relative, copy, max_file_bytes)
                    except OSError as error:
                        reason = f"could not be read ({error.strerror or error})"
                        copy.refused.append(RefusedFile(relative / entry.name, reason))
                        continue
                    if child is not None:
                        pending.append(child)
            finally:
                os.close(folder_fd)
    finally:
        for folder_fd, _ in pending:
            os.close(folder_fd)
    return copy


def _copy_entry(
    folder_fd: int, name: str, relative: Path, copy: PrivateCopy, max_file_bytes: int
) -> tuple[int, Path] | None:
    """Copy one entry; return (fd, path) of a folder still to walk."""
    path = relative / name
    info = os.lstat(name, dir_fd=folder_fd)
    if stat.S_ISLNK(info.st_mode):
        copy.refused.append(RefusedFile(path, "is a symbolic link; upload the file itself"))
        return None
    if stat.S_ISDIR(info.st_mode):
        if len(path.parts) > MAX_DEPTH:
            copy.refused.append(RefusedFile(path, f"is more than {MAX_DEPTH} folders deep"))
            return None
        (copy.root / path).mkdir(mode=0o700)
        return os.open(name, DIRECTORY_FLAGS, dir_fd=folder_fd), path
    if not stat.S_ISREG(info.st_mode):
        copy.refused.append(RefusedFile(path, "is not a regular file"))
        return None
    fd = os.open(name, FILE_FLAGS, dir_fd=folder_fd)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            copy.refused.append(RefusedFile(path, "is not a regular file"))
            return None
        too_big = RefusedFile(path, f"is larger than {max_file_bytes >> 20} MB, the most the grader reads")
        if opened.st_size > max_file_bytes:
            copy.refused.append(too_big)
            return None
        target = os.open(copy.root / path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        copied = 0
        with os.fdopen(target, "wb") as out:
            while chunk := os.read(fd, CHUNK):
                copied += len(chunk)
                if copied > max_file_bytes:
                    break
                out.write(chunk)
        if copied > max_file_bytes:
            (copy.root / path).unlink()
            copy.refused.append(too_big)
    finally:
        os.close(fd)
    return None
