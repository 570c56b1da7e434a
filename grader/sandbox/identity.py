"""Which unprivileged identity runs the student's code, and how every process of it is ended.

As root, each grading run takes its own numeric uid from a reserved range (held by a lock file for
the run's lifetime), so that parallel runs never share one and "kill every process of this uid"
reaches grandchildren that left the process group. A named user (Gradescope's `student`) may be used
instead. Without root nothing can be dropped: the child runs as the caller (a student's laptop).
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import time
from dataclasses import dataclass
from pathlib import Path

UID_RANGE = range(61000, 61999)
LOCK_DIR = Path("/tmp/a2grader-uids")


@dataclass
class Identity:
    """The uid/gid the child runs as; `dedicated` when no other process of ours uses it."""

    uid: int
    gid: int
    dedicated: bool
    lock_fd: int | None = None

    @property
    def drops_privileges(self) -> bool:
        return os.geteuid() == 0 and self.uid != 0

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


class IdentityError(RuntimeError):
    """No sandbox identity could be chosen; the message says what to change."""


def _allocate() -> Identity:
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    start = os.getpid() % len(UID_RANGE)
    for offset in range(len(UID_RANGE)):
        uid = UID_RANGE[(start + offset) % len(UID_RANGE)]
        fd = os.open(LOCK_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        identity = Identity(uid, uid, dedicated=True, lock_fd=fd)
        kill_all_of(identity)
        return identity
    raise IdentityError("every sandbox uid is in use by another grading run")


def choose_identity(user: str = "auto") -> Identity:
    """`auto`: a dedicated uid when root, else the caller; otherwise a named user (root only)."""
    if os.geteuid() != 0:
        return Identity(os.getuid(), os.getgid(), dedicated=False)
    if user == "auto":
        return _allocate()
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise IdentityError(
            f"sandbox user {user!r} does not exist (create it, or use --sandbox-user auto)"
        ) from None
    if entry.pw_uid == 0:
        raise IdentityError("the sandbox user must not be root")
    return Identity(entry.pw_uid, entry.pw_gid, dedicated=True)


def unreachable_folders(paths: list[Path]) -> list[Path]:
    """Folders on the way to `paths` that an unrelated unprivileged user cannot traverse.

    The sandbox user must reach the interpreter, the virtual environment and the grader's runtime; an
    install under a private home (e.g. /root, mode 0700) makes every student process fail to start.
    """
    blocked = []
    for path in paths:
        for folder in (path, *path.parents):
            if folder.is_dir() and not folder.stat().st_mode & 0o001 and folder not in blocked:
                blocked.append(folder)
    return blocked


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                pids.append(int(entry.name))
                break
    return pids


def kill_all_of(identity: Identity) -> None:
    """SIGKILL every process running as the identity (only for a dedicated, unprivileged uid)."""
    if not (identity.dedicated and identity.drops_privileges):
        return
    for _ in range(20):
        pids = _pids_of(identity.uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
