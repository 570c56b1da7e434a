"""The child's seccomp filter: keyrings refused in every mode; without namespaces, sockets and IPC too.

Kernel keyrings (`add_key(2)`, `request_key(2)`, `keyctl(2)`) belong to the uid, not to any namespace
the launcher can make: a key stored in the user's keyring (`@u`), its session keyring or its persistent
keyring outlives the child, and the next run of the same uid (a named sandbox user in `batch`, or a
dedicated uid given out again) could read it back. So every child, in namespaces or not, gets a filter
that refuses the three calls (EACCES); the grader also clears the uid's keyrings after each child
(grader/sandbox/cleanup.py).

Where no namespaces can be made (Docker's default capability set, which is how Gradescope runs the
image), the same filter also refuses what the missing namespaces would have contained: `socket(2)` for
any family but AF_UNIX fails with EACCES, and so does `io_uring_setup(2)` (io_uring can open sockets
without calling socket). `mq_open(2)` and System V `shmget`/`semget`/`msgget` are refused too: without
an IPC namespace these objects would outlive the child, and without CAP_SYS_ADMIN the grader could not
remove another user's (nor, where /dev/mqueue is not mounted, even find a POSIX queue).

On x86-64 the x32 system-call numbers are refused as well, so they cannot be used to slip past the
checks, and a call made through another architecture's entry (32-bit `int 0x80`) kills the process.
The filter is inherited by every process the student starts and cannot be removed; it needs
PR_SET_NO_NEW_PRIVS, which the launcher sets first.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from dataclasses import dataclass

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AF_UNIX = 1


@dataclass(frozen=True)
class Architecture:
    """One machine's system-call numbers, as the filter needs them."""

    audit: int
    socket: int
    #: add_key, request_key, keyctl
    keyrings: tuple[int, ...]
    #: io_uring_setup, mq_open, shmget, semget, msgget
    ipc: tuple[int, ...]


ARCHITECTURES = {
    "x86_64": Architecture(0xC000003E, 41, (248, 249, 250), (425, 240, 29, 64, 68)),
    "aarch64": Architecture(0xC00000B7, 198, (217, 218, 219), (425, 180, 194, 190, 186)),
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


def child_filter(machine: str, without_namespaces: bool) -> bytes:
    """The BPF program, as the bytes of a `struct sock_filter` array: keyrings refused, and with
    `without_namespaces` non-local sockets, io_uring and IPC objects too."""
    try:
        arch = ARCHITECTURES[machine]
    except KeyError:
        raise SeccompUnavailable(f"no seccomp filter for the {machine} architecture") from None
    refused = arch.keyrings + (arch.ipc if without_namespaces else ())
    # Laid out as: checks, then [allow, (load domain, allow-if-local, refuse, allow)], refuse; a jump
    # counts from the instruction after it.
    checks = 5 + len(refused) + (1 if without_namespaces else 0)
    domain = checks + 1
    refuse = checks + (5 if without_namespaces else 1)
    program = [
        (LOAD, 0, 0, ARCH),
        (JUMP_EQUAL, 1, 0, arch.audit),
        (RETURN, 0, 0, KILL_PROCESS),
        (LOAD, 0, 0, NR),
        (JUMP_AT_LEAST, refuse - 5, 0, X32_SYSCALL_BIT),
    ]
    for number in refused:
        program.append((JUMP_EQUAL, refuse - len(program) - 1, 0, number))
    if without_namespaces:
        program.append((JUMP_EQUAL, domain - len(program) - 1, 0, arch.socket))
    program.append((RETURN, 0, 0, ALLOW))
    if without_namespaces:
        program += [
            (LOAD, 0, 0, FIRST_ARGUMENT),
            (JUMP_EQUAL, 1, 0, AF_UNIX),
            (RETURN, 0, 0, REFUSE),
            (RETURN, 0, 0, ALLOW),
        ]
    program.append((RETURN, 0, 0, REFUSE))
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def install_filter(without_namespaces: bool) -> None:
    """Install the filter on this process (and so on everything it starts). Needs no_new_privs."""
    program = child_filter(platform.machine(), without_namespaces)
    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise SeccompUnavailable(ctypes.get_errno(), "seccomp filter refused")
