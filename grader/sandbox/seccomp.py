"""The fallback when no namespaces can be made: a seccomp filter refusing non-local sockets and IPC.

Where no network namespace can be made (Docker's default capability set, which is how Gradescope
runs the image), the launcher installs this filter before it hands over to the child. `socket(2)`
for any family but AF_UNIX fails with EACCES, and so does `io_uring_setup(2)` (io_uring can open
sockets without calling socket). `mq_open(2)` and System V `shmget`/`semget`/`msgget` are refused
too: without an IPC namespace these objects would outlive the child, and without CAP_SYS_ADMIN the
grader could not remove another user's (nor, where /dev/mqueue is not mounted, even find a POSIX
queue). On x86-64 the x32 system-call numbers are refused as well, so they
cannot be used to slip past the checks. The filter is inherited by every process the student
starts and cannot be removed; it needs PR_SET_NO_NEW_PRIVS, which the launcher sets first.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AF_UNIX = 1
# Per machine: the audit architecture, socket's number, and the calls refused outright
# (io_uring_setup, mq_open, shmget, semget, msgget).
ARCHITECTURES = {
    "x86_64": (0xC000003E, 41, (425, 240, 29, 64, 68)),
    "aarch64": (0xC00000B7, 198, (425, 180, 194, 190, 186)),
}
X32_SYSCALL_BIT = 0x40000000

LOAD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000
KILL_PROCESS = 0x80000000
REFUSE = 0x00050000 | errno.EACCES
# Offsets in struct seccomp_data: nr, arch, then the arguments (the low half of the first on little-endian).
NR, ARCH, FIRST_ARGUMENT = 0, 4, 16


class SeccompUnavailable(OSError):
    """This machine or kernel cannot take the filter."""


def socket_filter(machine: str) -> bytes:
    """The BPF program, as the bytes of a `struct sock_filter` array."""
    try:
        arch, socket_nr, refused = ARCHITECTURES[machine]
    except KeyError:
        raise SeccompUnavailable(f"no seccomp filter for the {machine} architecture") from None
    # Laid out as: checks, then [allow, load domain, allow-if-local, refuse, allow]; jumps are
    # counted from the instruction after the jump.
    checks = 5 + len(refused) + 1
    domain, refuse = checks + 1, checks + 3
    program = [
        (LOAD, 0, 0, ARCH),
        (JUMP_EQUAL, 1, 0, arch),
        (RETURN, 0, 0, KILL_PROCESS),
        (LOAD, 0, 0, NR),
        (JUMP_AT_LEAST, refuse - 5, 0, X32_SYSCALL_BIT),
    ]
    for number in refused:
        program.append((JUMP_EQUAL, refuse - len(program) - 1, 0, number))
    program.append((JUMP_EQUAL, domain - len(program) - 1, 0, socket_nr))
    program += [
        (RETURN, 0, 0, ALLOW),
        (LOAD, 0, 0, FIRST_ARGUMENT),
        (JUMP_EQUAL, 1, 0, AF_UNIX),
        (RETURN, 0, 0, REFUSE),
        (RETURN, 0, 0, ALLOW),
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def refuse_network_sockets() -> None:
    """Install the filter on this process (and so on everything it starts). Needs no_new_privs."""
    program = socket_filter(platform.machine())
    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise SeccompUnavailable(ctypes.get_errno(), "seccomp filter refused")
