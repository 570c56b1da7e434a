"""Removing what a sandboxed child left behind, in a way no tree it built can break.

- `remove_tree`: iterative (no recursion, so a 3,000-deep folder chain cannot raise RecursionError),
  relative to open folder descriptors with O_NOFOLLOW (a symbolic link swapped in mid-way leads
  nowhere), bounded (it stops after `MAX_ENTRIES` and says so), and it reports errors instead of
  raising them: cleanup must never cost the student's results.
- `remove_files_of`: whatever the sandbox uid owns at the top of the shared temporary folders.
- `remove_ipc_of`: System V shared memory, semaphores and message queues the uid owns, and its POSIX
  message queues where /dev/mqueue is mounted.

In a namespace (grader/sandbox/namespace.py) the child's /tmp, /dev/shm and IPC vanish on their own;
these sweeps are what makes the no-namespace fallback leave nothing behind too.
"""

from __future__ import annotations

import ctypes
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("grader")

MAX_ENTRIES = 2_000_000
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
IPC_RMID = 0
# /proc/sysvipc file, its id column, its uid column, the libc call that removes one.
SYSV_TABLES = (("shm", 1, 7, "shmctl"), ("msg", 1, 7, "msgctl"), ("sem", 1, 4, "semctl"))
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path | str, max_entries: int = MAX_ENTRIES) -> list[str]:
    """Remove `path` and everything under it; return the problems met (empty when all went)."""
    path = os.fspath(path)
    parent, name = os.path.split(os.path.abspath(path))
    try:
        parent_fd = os.open(parent, DIRECTORY_FLAGS)
    except OSError as error:
        return [f"{parent}: {error.strerror}"]
    try:
        return _remove_entry(parent_fd, name, path, max_entries)
    finally:
        os.close(parent_fd)


def _remove_entry(parent_fd: int, name: str, shown: str, max_entries: int) -> list[str]:
    try:
        if not stat.S_ISDIR(os.lstat(name, dir_fd=parent_fd).st_mode):
            os.unlink(name, dir_fd=parent_fd)
            return []
        root_fd = os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return []
    except OSError as error:
        return [f"{shown}: {error.strerror}"]
    return _TreeRemoval(parent_fd, root_fd, name, shown, max_entries).run()


class _TreeRemoval:
    """Depth first through folder descriptors: a folder is removed once it is empty."""

    def __init__(self, parent_fd: int, root_fd: int, name: str, shown: str, max_entries: int) -> None:
        self.parent_fd = parent_fd
        self.shown = shown
        self.max_entries = max_entries
        self.errors: list[str] = []
        self.seen = 0
        # Each frame: (fd of a folder, its name in its parent).
        self.stack: list[tuple[int, str]] = [(root_fd, name)]

    def run(self) -> list[str]:
        while self.stack:
            emptied = self._clear_top()
            if emptied is None:
                continue
            if not emptied or not self._remove_top():
                for open_fd, _ in self.stack:
                    os.close(open_fd)
                return self.errors
        return self.errors

    def _clear_top(self) -> bool | None:
        """Unlink the files of the folder on top; None when it descended into a subfolder instead,
        False when there are too many entries to go on."""
        fd = self.stack[-1][0]
        try:
            entries = list(os.scandir(fd))
        except OSError as error:
            self.errors.append(f"{self.shown}: listing a folder failed: {error.strerror}")
            entries = []
        for entry in entries:
            self.seen += 1
            if self.seen > self.max_entries:
                self.errors.append(f"{self.shown}: more than {self.max_entries} entries, the rest was left")
                return False
            try:
                if entry.is_dir(follow_symlinks=False):
                    self.stack.append((os.open(entry.name, DIRECTORY_FLAGS, dir_fd=fd), entry.name))
                    return None
                os.unlink(entry.name, dir_fd=fd)
            except FileNotFoundError:
                continue
            except OSError as error:
                self.errors.append(f"{self.shown}/…/{entry.name}: {error.strerror}")
        return True

    def _remove_top(self) -> bool:
        """Remove the emptied folder on top; False when it cannot go and has a parent, which would
        then be listed again forever."""
        fd, folder_name = self.stack.pop()
        os.close(fd)
        up = self.stack[-1][0] if self.stack else self.parent_fd
        try:
            os.rmdir(folder_name, dir_fd=up)
        except FileNotFoundError:
            pass
        except OSError as error:
            self.errors.append(f"{self.shown}: removing a folder failed: {error.strerror}")
            return not self.stack
        return True


def remove_files_of(uid: int, since_ns: int = 0, folders: tuple[str, ...] = SHARED_TEMPORARY) -> list[str]:
    """Remove what `uid` owns at the top of the shared temporary folders (changed at or after
    `since_ns`, so a named user's older files stay); return the problems met."""
    errors: list[str] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid and info.st_ctime_ns >= since_ns:
                errors += remove_tree(entry.path)
    return errors


def remove_ipc_of(uid: int) -> list[str]:
    """Remove the System V IPC objects `uid` owns; return the problems met."""
    libc = ctypes.CDLL(None, use_errno=True)
    errors: list[str] = []
    for table, id_column, uid_column, remover in SYSV_TABLES:
        try:
            rows = Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) <= uid_column or int(fields[uid_column]) != uid:
                continue
            number = int(fields[id_column])
            arguments = (number, 0, IPC_RMID) if table == "sem" else (number, IPC_RMID, None)
            if getattr(libc, remover)(*arguments) != 0:
                errors.append(f"System V {table} {fields[id_column]}: {os.strerror(ctypes.get_errno())}")
    return errors


def sweep_uid(uid: int, since_ns: int = 0) -> None:
    """Everything above for `uid`; problems are logged, never raised."""
    for problem in remove_files_of(uid, since_ns) + remove_ipc_of(uid):
        log.warning("cleanup after the sandbox uid %s: %s", uid, problem)
