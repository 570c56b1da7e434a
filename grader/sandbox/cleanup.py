"""Removing what a sandboxed child left behind, in a way no tree it built can break.

- `remove_tree`: iterative (no recursion, so a 3,000-deep folder chain cannot raise RecursionError),
  relative to open folder descriptors with O_NOFOLLOW (a symbolic link swapped in mid-way leads
  nowhere), bounded (it stops after `MAX_ENTRIES` and says so), and it reports errors instead of
  raising them: cleanup must never cost the student's results.
- `remove_files_of`: whatever the sandbox uid owns, or (a named user) changed during the run, in every
  folder it could write: the shared temporary folders, every world-writable folder of the host
  (`world_writable_folders`, found once per grading process: /run/lock, /var/crash, …) and a named
  user's home.
- `remove_ipc_of`: System V shared memory, semaphores and message queues the uid owns, and its POSIX
  message queues where /dev/mqueue is mounted.
- `clear_keyrings`: the keys of the uid's user, user-session and persistent keyrings, which belong to
  the uid rather than to any namespace (the child's seccomp filter refuses keyring calls; this is what
  a child that got no filter would have left).

In a namespace (grader/sandbox/namespace.py) the child's /tmp, /dev/shm and IPC vanish on their own;
these sweeps are what makes the no-namespace fallback leave nothing behind too.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import pwd
import stat
import subprocess
import sys
from functools import cache
from pathlib import Path

log = logging.getLogger("grader")

MAX_ENTRIES = 2_000_000
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
#: Filesystems that hold no files a user can create (the kernel's views, and mount helpers).
PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc", "sysfs", "cgroup", "cgroup2", "devpts", "securityfs", "debugfs", "tracefs", "pstore",
        "bpf", "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "autofs", "nsfs", "efivarfs",
        "rpc_pipefs", "selinuxfs", "mqueue",
    }
)  # fmt: skip
#: Folders looked at when searching the host for world-writable ones.
MAX_SCANNED = 2_000_000
KEYCTL = {"x86_64": 250, "aarch64": 219}
#: Run as the sandbox uid: empty its persistent, user and user-session keyrings (keyctl(2): 22 is
#: KEYCTL_GET_PERSISTENT, 7 KEYCTL_CLEAR, 21 KEYCTL_INVALIDATE; -4 is @u, -5 @us). The persistent
#: keyring goes first: it is reached through @us, and once @us is empty it can no longer be changed.
KEYRING_CLEARER = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
call = lambda *a: libc.syscall(*(ctypes.c_long(int(x)) for x in (sys.argv[1], *a)))
persistent = call(22, -1, -5)
rings = ([persistent] if persistent > 0 else []) + [-4, -5]
failed = [ring for ring in rings if call(7, ring) != 0]
if persistent > 0:
    call(21, persistent)
sys.exit(1 if failed else 0)
"""
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


def _mount_points() -> list[tuple[str, int]]:
    """(path, device) of every mounted filesystem a user could write: no pseudo or read-only one."""
    points = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[2] in PSEUDO_FILESYSTEMS or "ro" in fields[3].split(","):
            continue
        # /proc/self/mounts writes a space in a path as \040 (and so on), in octal.
        path = fields[1].encode().decode("unicode_escape").encode("latin-1").decode(errors="surrogateescape")
        try:
            points.append((path, os.lstat(path).st_dev))
        except OSError:
            continue
    return points


def _subfolders(folder: str, device: int) -> list[tuple[str, int]]:
    """(path, mode) of the folders in `folder` on the same filesystem (symbolic links are not folders)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                if info.st_dev == device:
                    found.append((entry.path, info.st_mode))
        except OSError:
            continue
    return found


@cache
def world_writable_folders() -> tuple[str, ...]:
    """Every folder of this host that any user may write (mode o+w), found once per process.

    Only folders an unrelated user can reach are looked in (each one on the way is o+x), and each
    filesystem is walked on its own; at most MAX_SCANNED folders are looked at.
    """
    found: list[str] = []
    scanned = 0
    for root, device in _mount_points():
        try:
            if os.lstat(root).st_mode & stat.S_IWOTH:
                found.append(root)
        except OSError:
            continue
        stack = [root]
        while stack and scanned < MAX_SCANNED:
            for path, mode in _subfolders(stack.pop(), device):
                scanned += 1
                if mode & stat.S_IWOTH:
                    found.append(path)
                if mode & stat.S_IXOTH:
                    stack.append(path)
    if scanned >= MAX_SCANNED:
        log.warning("cleanup: looked at %d folders for world-writable ones and stopped", scanned)
    return tuple(dict.fromkeys(found))


def writable_folders(uid: int) -> tuple[str, ...]:
    """Where `uid` may have written: the shared temporary folders, every world-writable folder of the
    host, and its home when it is a named user that owns one."""
    folders = [*SHARED_TEMPORARY, *world_writable_folders()]
    try:
        home = pwd.getpwuid(uid).pw_dir
        if home not in ("", "/") and os.lstat(home).st_uid == uid:
            folders.append(home)
    except (KeyError, OSError):
        pass
    return tuple(dict.fromkeys(folders))


def remove_files_of(uid: int, since_ns: int = 0, folders: tuple[str, ...] = SHARED_TEMPORARY) -> list[str]:
    """Remove what `uid` owns in `folders`; return the problems met.

    With `since_ns` (a named user, whose files from before the run must stay), only what changed at or
    after it goes: the walk goes into the uid's own folders for what changed inside them, removes each
    such file, and then each folder the run changed that it left empty.
    """
    errors: list[str] = []
    pending, changed, seen = list(folders), [], 0
    while pending and seen < MAX_ENTRIES:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid != uid:
                continue
            if not since_ns:
                errors += remove_tree(entry.path)
            elif stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
                if info.st_ctime_ns >= since_ns:
                    changed.append(entry.path)
            elif info.st_ctime_ns >= since_ns:
                errors += remove_tree(entry.path)
    for folder in reversed(changed):  # a folder is listed after the one holding it
        try:
            os.rmdir(folder)
        except OSError:
            continue  # it still holds what was there before the run
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


def has_keys(uid: int) -> bool:
    """Whether the kernel holds any key or keyring of `uid` (/proc/key-users lists such users)."""
    try:
        rows = Path("/proc/key-users").read_text().splitlines()
    except OSError:
        return False
    return any(row.split(":", 1)[0].strip() == str(uid) for row in rows)


def clear_keyrings(uid: int) -> list[str]:
    """Empty `uid`'s persistent, user and user-session keyrings, as that uid (root cannot reach another
    user's keyrings); nothing to do when the uid has no key. Return the problems met."""
    number = KEYCTL.get(platform.machine())
    if number is None or not has_keys(uid):
        return []
    try:
        gid = pwd.getpwuid(uid).pw_gid
    except KeyError:
        gid = uid
    command = [sys.executable, "-I", "-S", "-c", KEYRING_CLEARER, str(number)]
    try:
        done = subprocess.run(
            command, user=uid, group=gid, extra_groups=[], env={}, cwd="/", capture_output=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as error:
        return [f"clearing the keyrings failed: {error}"]
    return [] if done.returncode == 0 else ["a keyring could not be cleared"]


def sweep_uid(uid: int, since_ns: int = 0) -> None:
    """Everything above for `uid`; problems are logged, never raised."""
    problems = remove_files_of(uid, since_ns, writable_folders(uid)) + remove_ipc_of(uid)
    for problem in problems + clear_keyrings(uid):
        log.warning("cleanup after the sandbox uid %s: %s", uid, problem)
