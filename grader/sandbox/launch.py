"""How a student process is confined before any student code runs: the steps, and the report of them.

`confine` runs in a fork of the warm template (grader/sandbox/fork_server.py), our code only, as root
when grading as root:

1. a new session, so the whole process group can be killed;
2. new mount, PID, network, IPC and UTS namespaces with a root holding only what the child needs
   (grader/sandbox/namespace.py). The process forks; the fork is the namespace's first process and
   becomes the child, while this one waits and exits as it did, so the grader sees the child's end.
   Where the namespaces are refused (a container without CAP_SYS_ADMIN), it carries on without
   them: the filesystem is then confined by permissions (grader/sandbox/staging.py) and the network
   by a seccomp filter that refuses every non-local socket (grader/sandbox/seccomp.py). Kernel
   keyrings are refused by the same filter in every mode: no namespace contains them;
3. resource limits (core, CPU seconds, address space, file size, a process cap), a lower priority;
4. the sandbox uid/gid with no supplementary groups, no_new_privs, death with its parent;
5. a report of what it achieved, which the caller writes to the grader on its own pipe and closes
   before the child runtime (grader/sandbox/child.py) takes over, so nothing the student runs can
   write it.

The spec: a LaunchSpec of grader/sandbox/protocol.py, made by `launch_spec` in
grader/sandbox/process.py; its descriptors are the numbers they have in the confined process.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

from grader.sandbox import namespace, seccomp
from grader.sandbox.protocol import LaunchSpec

# Processes and threads the sandbox uid may have at once: torch's thread pools fit, a fork bomb does not.
MAX_PROCESSES = 512
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
NICE = 10

_libc = ctypes.CDLL(None, use_errno=True)


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def die_with_parent() -> None:
    """SIGKILL this process when its parent ends."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _wait_and_mirror(pid: int, fds: list[int]) -> None:
    """The outer process's part once the namespace's first process runs: end as that process ended."""
    for fd in fds:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _confine_filesystem(spec: LaunchSpec, report: dict[str, Any]) -> None:
    try:
        namespace.build_root(spec["new_root"], spec["readable"], spec["writable"])
    except OSError as error:
        report["filesystem"] = f"permissions only (building the private root failed: {error})"
        return
    readable = ", ".join(["system folders", *spec["readable_labels"]])
    report["filesystem"] = f"private root: {readable} (read-only); scratch (writable)"


def _set_limits(spec: LaunchSpec, drops: bool) -> dict[str, int]:
    limits = {"core_bytes": 0, "cpu_seconds": spec["cpu_seconds"], "file_bytes": spec["file_bytes"]}
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, spec["cpu_seconds"])
    _limit(resource.RLIMIT_FSIZE, spec["file_bytes"])
    if spec["memory_bytes"] > 0:
        _limit(resource.RLIMIT_AS, spec["memory_bytes"])
        limits["address_space_bytes"] = spec["memory_bytes"]
    if drops:
        _limit(resource.RLIMIT_NPROC, MAX_PROCESSES)
        limits["processes"] = MAX_PROCESSES
    os.setpriority(os.PRIO_PROCESS, 0, NICE)
    limits["nice"] = NICE
    return limits


def _install_filter(report: dict[str, Any], without_namespaces: bool) -> None:
    """The seccomp filter: keyrings always; sockets and IPC too when no namespace holds them."""
    try:
        seccomp.install_filter(without_namespaces)
    except OSError as error:
        report["keyrings"] = f"open (the seccomp filter failed: {error})"
        if without_namespaces:
            report["network"] = f"open (no namespace, and the seccomp filter failed: {error})"
        return
    report["keyrings"] = "seccomp filter: refused"
    if without_namespaces:
        report["network"] = "seccomp filter: only local (AF_UNIX) sockets"


def confine(spec: LaunchSpec) -> dict[str, Any]:
    """Steps 1 to 4 above; returns the report. In the namespace case this returns in the fork (the
    namespace's first process); the process that called it waits in `_wait_and_mirror`."""
    os.setsid()
    die_with_parent()
    _limit(resource.RLIMIT_CORE, 0)
    root = os.geteuid() == 0
    drops = root and spec["uid"] != 0
    report: dict[str, Any] = {}
    in_namespace = False
    if spec["namespaces"] and root:
        try:
            namespace.enter(network=not spec["block_network"])
            in_namespace = True
        except OSError as error:
            report["namespace_error"] = str(error)
    else:
        report["namespace_error"] = "not attempted (" + ("disabled" if root else "not root") + ")"
    if in_namespace:
        pid = os.fork()
        if pid:
            _wait_and_mirror(pid, spec["close_in_launcher"])
        die_with_parent()
        _confine_filesystem(spec, report)
        report["processes"] = "own PID namespace (all end with the child)"
        report["ipc"] = "own IPC namespace"
        report["network"] = "own network namespace (no interfaces up)" if spec["block_network"] else "open"
    else:
        report["filesystem"] = "permissions only (no mount namespace)"
        report["processes"] = "shared PID namespace (the grader ends every process of the uid)"
        report["ipc"] = "shared (the grader removes what the uid leaves)"
    report["limits"] = _set_limits(spec, drops)
    if drops:
        os.setgroups([])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
        die_with_parent()
    report["uid"], report["gid"] = os.getuid(), os.getgid()
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        report["no_new_privs"] = True
    _install_filter(report, without_namespaces=spec["block_network"] and not in_namespace)
    if not spec["block_network"]:
        report["network"] = "open"
    return report
