"""The child's own world: new mount, PID, network, IPC and UTS namespaces, and a root holding only
what it needs.

`enter` is called by the launcher (as root, before any student code exists). It unshares the
namespaces; the launcher then forks, and the fork, the first process of the new PID namespace, calls
`build_root`: a small tmpfs becomes the new root, and into it are bind-mounted, read-only, the system
folders and the paths the grader names (interpreter, staged code, the profile's model folder), and,
writable, the child's scratch folder. /tmp, /var/tmp and /dev/shm are fresh size-capped tmpfs, /proc
shows only this namespace's processes, and /dev only a few harmless devices (plus the GPUs). When
the first process ends the kernel kills every other process of the namespace, and the namespaces'
files, System V IPC objects and message queues vanish with them.
"""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
DEVICES = ("null", "zero", "full", "random", "urandom")
GPU_DEVICE_PREFIXES = ("nvidia", "dri")
TMP_SIZE = "size=256m"
SHM_SIZE = "size=512m"

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceUnavailable(OSError):
    """The kernel or the container refused a namespace or a mount; the message says which."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise NamespaceUnavailable(code, f"{what}: {os.strerror(code)}")


def enter(network: bool) -> None:
    """Unshare the namespaces (the network's too unless `network`); the caller's next child is PID 1
    of the new PID namespace."""
    _check(_libc.unshare(NAMESPACES | (0 if network else CLONE_NEWNET)), "unshare")


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    encoded = [None if value is None else value.encode() for value in (source, target, kind, data)]
    _check(_libc.mount(*encoded[:3], ctypes.c_ulong(flags), encoded[3]), f"mount {target}")


def _bind(source: str, root: str, writable: bool = False) -> None:
    """Bind `source` at the same path under `root`; a symbolic link is copied as a link."""
    target = root + source
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(source):
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        open(target, "w").close()  # an empty mount point
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags | (MS_NODEV if source != "/dev" else 0))


def _tmpfs(target: str, options: str) -> None:
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,{options}")


def build_root(new_root: str, readable: list[str], writable: list[str]) -> None:
    """Make `new_root` this process's root, holding only the system folders, `readable` (read-only)
    and `writable`. Must run as root in the new mount and PID namespaces."""
    os.umask(0o022)  # the folders leading to each mount must be traversable by the sandbox uid
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    for folder in SYSTEM_FOLDERS:
        if os.path.lexists(folder):
            _bind(folder, new_root)
    _tmpfs(new_root + "/tmp", TMP_SIZE)
    os.makedirs(new_root + "/var", exist_ok=True)
    os.symlink("/tmp", new_root + "/var/tmp")
    for path in readable:
        _bind(path, new_root)
    for path in writable:
        _bind(path, new_root, writable=True)
    _populate_dev(new_root + "/dev")
    os.makedirs(new_root + "/proc", exist_ok=True)
    _mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _pivot(new_root)


def _populate_dev(dev: str) -> None:
    os.makedirs(dev, exist_ok=True)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755,size=1m")
    names = list(DEVICES) + [n for n in os.listdir("/dev") if n.startswith(GPU_DEVICE_PREFIXES)]
    for name in names:
        source = "/dev/" + name
        if os.path.exists(source):
            target = f"{dev}/{name}"
            if os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
            else:
                open(target, "w").close()  # an empty mount point
            _mount(source, target, None, MS_BIND | MS_REC)
    _tmpfs(dev + "/shm", SHM_SIZE)
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        os.symlink(f"/proc/self/fd/{fd}", f"{dev}/{name}")
    os.symlink("/proc/self/fd", dev + "/fd")


def _pivot(new_root: str) -> None:
    try:
        number = PIVOT_ROOT[platform.machine()]
    except KeyError:
        raise NamespaceUnavailable(0, f"pivot_root is not known on {platform.machine()}") from None
    os.chdir(new_root)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")


def model_mount(model_dir: Path) -> Path:
    """The folder to expose for a model: a Hugging Face snapshot links into its repository's blobs, so
    the whole `models--*` folder is exposed (that one model only); any other folder as it is."""
    if model_dir.parent.name == "snapshots":
        return model_dir.parent.parent
    return model_dir
