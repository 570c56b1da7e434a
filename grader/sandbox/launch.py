"""The first program of the sandboxed child: confine itself, then become the student's interpreter.

It runs our code only (no student code has been read yet): it starts a new session so the whole
process group can be killed, cuts the network (a new, empty network namespace) when it may, sets
resource limits (a process cap too when it drops privileges), drops to the sandbox uid/gid with no
supplementary groups, and then execs the child runtime (grader/sandbox/child.py). Running this as a
separate program rather than in a `preexec_fn` keeps the parent's threads out of the fork.

argv: launch.py UID GID CPU_SECONDS MEMORY_BYTES BLOCK_NETWORK -- CHILD_ARGV...
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
# Processes and threads the sandbox uid may have at once: torch's thread pools fit, a fork bomb does not.
MAX_PROCESSES = 512


def _unshare_network() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(CLONE_NEWNET) == 0


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def main(argv: list[str]) -> None:
    split = argv.index("--")
    uid, gid, cpu_seconds, memory_bytes, block_network = (int(x) for x in argv[:split])
    child = argv[split + 1 :]
    os.setsid()
    network = "cut" if block_network and os.geteuid() == 0 and _unshare_network() else "open"
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, cpu_seconds)
    if memory_bytes > 0:
        _limit(resource.RLIMIT_AS, memory_bytes)
    if os.geteuid() == 0 and uid != 0:
        _limit(resource.RLIMIT_NPROC, MAX_PROCESSES)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    os.umask(0o077)
    os.environ["A2GRADER_NETWORK"] = network
    os.execv(child[0], child)


if __name__ == "__main__":
    main(sys.argv[1:])
