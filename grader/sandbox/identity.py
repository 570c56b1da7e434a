"""Which unprivileged identity runs the student's code, and how every process of it is ended.

As root, each section of each grading run takes its own numeric uid from a reserved range (held by
a lock file for the run's lifetime), so that parallel runs never share one and "stop every process
of this uid" reaches grandchildren that left the process group. A uid is used only if no account or
group has that number and no process runs as it. A named user (Gradescope's `student`) may be used
instead; its processes that the child did not start are never touched. Without root nothing can be
dropped: the child runs as the caller (a student's laptop).
"""

from __future__ import annotations

import fcntl
import grp
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
    """The uid/gid the child runs as; `dedicated` when nothing but this run's sandbox uses it."""

    uid: int
    gid: int
    dedicated: bool
    lock_fd: int | None = None

    @property
    def drops_privileges(self) -> bool:
        return os.geteuid() == 0 and self.uid != 0

    def describe(self) -> str:
        """Who the child runs as, in words that do not change from run to run."""
        if not self.drops_privileges:
            return "the grader's own user (not root: no privilege drop)"
        return "a dedicated unprivileged uid" if self.dedicated else "a named unprivileged user"

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
        if not _unused(uid):
            os.close(fd)
            continue
        return Identity(uid, uid, dedicated=True, lock_fd=fd)
    raise IdentityError("every sandbox uid is in use by another grading run")


def _unused(uid: int) -> bool:
    """No account, no group and no running process has this number."""
    try:
        pwd.getpwuid(uid)
        return False
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return False
    except KeyError:
        pass
    return not _pids_of(uid)


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
    return Identity(entry.pw_uid, entry.pw_gid, dedicated=False)


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


def start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (None if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pids_of(uid: int, started_after: int | None = None) -> list[int]:
    """Live processes whose real uid is `uid` (only those started at or after `started_after` ticks);
    zombies are already dead and are left to whoever reaps them."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            lines = (entry / "status").read_text().splitlines()
        except OSError:
            continue
        status = dict(line.split(":", 1) for line in lines if ":" in line)
        dead = status.get("State", "").split()[:1] in (["Z"], ["X"])
        if dead or int(status.get("Uid", "-1").split()[0]) != uid:
            continue
        if started_after is None or (start_ticks(int(entry.name)) or 0) >= started_after:
            pids.append(int(entry.name))
    return pids


def stop_all_of(identity: Identity, started_after: int | None) -> None:
    """End every process of the sandbox uid: stop them all (so none can fork meanwhile), kill them, and
    look again until none is left. A named user's processes count only if started at or after
    `started_after` (the launcher's start), so its other processes are never touched."""
    if not identity.drops_privileges:
        return
    since = None if identity.dedicated else started_after
    if since is None and not identity.dedicated:
        return
    while pids := _pids_of(identity.uid, since):
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        time.sleep(0.01)
