"""The warm template: one trusted process per grading run that imports the heavy modules once and forks
every student process of the run from itself, so that a student process starts in milliseconds, not in
the seconds that Python, torch and transformers take to import.

The grader starts the template (`ForkServer`) with a scrubbed environment and nothing of its own: no
open file of the grader, no secret, no test, only the staged code (grader/sandbox/staging.py) first on
its path. The template imports the child runtime (torch, numpy), then, while no order waits, the heavy
modules the grader names (what the submission's notebooks and our drivers import: transformers,
datasets), one at a time; one missing from the interpreter is skipped (the student's import then
fails alike). It never runs student code: it only waits for orders on its control socket. For each
order it forks a watcher, which forks the student process:

1. the student process puts the pipes it was sent at fixed numbers and closes every other descriptor
   (the template's control socket included), takes the child's environment, and is confined by
   launch.confine exactly as a launched child is: new session, namespaces where allowed, limits, the
   sandbox uid with no groups, no_new_privs, the seccomp fallback, death with its parent; it writes
   the same report on its own pipe, closed before any student code runs;
2. it then makes itself what a freshly started interpreter would be: the values the imported modules
   derived from the environment point at its own scratch folder, the random generators are reseeded
   as at start-up, and the child runtime's `main` serves the grader (non-dumpable first);
3. the watcher, which stays root and outside the student's session, tells the grader the student
   process's pid, then how it ended (as `subprocess.Popen.returncode` says it), and keeps it unreaped
   until the grader has finished with it, so its pid and process group are never reused meanwhile.

The template starts no thread and computes nothing: a fork copies only the calling thread, so each fork
is single-threaded (unshare(CLONE_NEWNS) needs that), and no thread pool of torch exists to be left
half-copied (numpy's BLAS pool, started by its import, stops itself around a fork). CUDA state does not
survive a fork: GPU questions go through NVML, and the template refuses to fork once CUDA was
initialised. It runs at the children's priority, and ends when the grader closes the control socket
or dies; its watchers and every student process end with it.

Started as:  python -I -c BOOTSTRAP STAGED_CODE CONTROL_FD [MODULE_TO_PRELOAD ...]
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path, PurePath
from typing import Any

from grader.sandbox.cleanup import remove_tree

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from grader.sandbox.fork_server import run_template; run_template()"
)
#: Where the student process finds what it was sent: stdin /dev/null, stdout and stderr the output pipe,
#: then the request, reply and report pipes (the numbers `launch_spec` is given).
STUDENT_FDS = (3, 4, 5)
#: How many descriptors an order carries: request (read), reply, report, output and exit (write ends).
ORDER_FDS = 5
MAX_ORDER_BYTES = 1 << 20
PID = struct.Struct("q")
# How long the grader waits for the template to fork (its imports included, the first time).
FORK_TIMEOUT = 120.0
#: The child runtime's entry point (grader.sandbox.child.main): serves on (request fd, reply fd).
ServeGrader = Callable[[int, int], None]


class TemplateGone(OSError):
    """The template could not be started or did not fork; the message says what it printed."""


class ForkedProcess:
    """A student process forked by the template, seen as `subprocess.Popen` sees its child: a pid,
    `poll`, `wait` and `returncode` with Popen's meaning (negative: killed by that signal)."""

    def __init__(self, exit_fd: int, timeout: float) -> None:
        self._exit = exit_fd
        self.returncode: int | None = None
        self.pid = PID.unpack(self._read(timeout, "the template did not fork the student process"))[0]

    def _read(self, timeout: float | None, what: str) -> bytes:
        if not select.select([self._exit], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("student process", timeout or 0)
        data = os.read(self._exit, PID.size)
        if len(data) != PID.size:
            raise TemplateGone(what)
        return data

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._exit], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._exit], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired("student process", timeout or 0)
            self._ended()
        assert self.returncode is not None
        return self.returncode

    def _ended(self) -> None:
        try:
            self.returncode = PID.unpack(self._read(0, "the watcher ended without a status"))[0]
        except TemplateGone:
            # Only root can kill the watcher: the template ended, and the student process with it.
            self.returncode = -signal.SIGKILL

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def release(self) -> None:
        """The grader is done with this process: the watcher may reap it, and its pid may be reused, so
        from here on it counts as ended and is never signalled again."""
        if self._exit >= 0:
            self.poll()
            os.close(self._exit)
            self._exit = -1
        if self.returncode is None:
            self.returncode = -signal.SIGKILL


class ForkServer:
    """The trusted side's handle on one grading run's template, started on first use."""

    def __init__(
        self,
        code: Path,
        environment: Callable[[Path, dict[str, str]], dict[str, str]],
        preloaded: tuple[str, ...] = (),
    ) -> None:
        """`code`: the staged code; `environment(home, extra)`: the child's environment for a home
        folder; `preloaded`: modules to import while no order waits."""
        self.code = code
        self.environment = environment
        self.preloaded = preloaded
        self.folder = Path(tempfile.mkdtemp(prefix="a2grader-template-"))
        self.home = self.folder / "home"
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        # Whatever torch asks about GPUs before a fork goes through NVML, which leaves no CUDA state behind.
        environment = self.environment(self.home, {"PYTORCH_NVML_BASED_CUDA_CHECK": "1"})
        with theirs, (self.folder / "template.log").open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    BOOTSTRAP,
                    str(self.code),
                    str(theirs.fileno()),
                    *self.preloaded,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                env=environment,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        self._control = ours
        return ours

    def fork(self, order: dict[str, Any], fds: list[int], exit_read: int) -> ForkedProcess:
        """Have the template fork a student process confined by `order["spec"]`; `fds` are the
        descriptors of ORDER_FDS, `exit_read` the grader's end of the exit pipe."""
        message = json.dumps(order).encode()
        for attempt in range(2):
            control = self._control or self._start()
            try:
                socket.send_fds(control, [message], fds)
                break
            except OSError:
                # The template ended (killed from outside): start another once.
                self.close()
                if attempt:
                    raise TemplateGone(f"the template is not running: {self.last_words()}") from None
        try:
            return ForkedProcess(exit_read, FORK_TIMEOUT)
        except (TemplateGone, subprocess.TimeoutExpired):
            raise TemplateGone(f"the template did not fork: {self.last_words()}") from None

    def last_words(self) -> str:
        """The end of what the template printed (its import warnings, or why it ended)."""
        try:
            return (self.folder / "template.log").read_text(errors="replace")[-2000:].strip() or "nothing"
        except OSError:
            return "nothing"

    def close(self) -> None:
        """End the template (its watchers and any student process left end with it); the next `fork`
        starts another."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def remove(self) -> None:
        """End the template and remove its folder: the grading run is over."""
        self.close()
        remove_tree(self.folder)


# ---------------------------------------------------------------- in the template


def run_template() -> None:
    """The template's loop: preload while idle, fork on each order, end when the grader goes."""
    from grader.sandbox import child, launch

    launch.die_with_parent()
    # The priority every student process gets: preloading never competes with one at a higher priority.
    os.setpriority(os.PRIO_PROCESS, 0, launch.NICE)
    fresh = Fresh(os.environ["HOME"])
    control = socket.socket(fileno=int(sys.argv[1]))
    pending = [module for module in sys.argv[2:] if module not in sys.modules]
    while True:
        _reap_watchers()
        if pending and not select.select([control], [], [], 0)[0]:
            _preload(pending.pop(0))
            continue
        fresh.scan()
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_ORDER_BYTES, ORDER_FDS)
        except OSError:
            message, fds = b"", []
        if not message:
            _reap_watchers(wait=True)
            os._exit(0)
        if len(fds) == ORDER_FDS:
            _fork_watcher(control, json.loads(message), fds, fresh, child.main)
        for fd in fds:
            os.close(fd)


def _preload(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module that cannot be imported here fails alike in the child
        pass


def _reap_watchers(wait: bool = False) -> None:
    """Reap the watchers that ended (with `wait`, all of them: the grader has released every process)."""
    with suppress(ChildProcessError):
        while os.waitpid(-1, 0 if wait else os.WNOHANG)[0]:
            pass


class Fresh:
    """What differs between a fork of the template and a freshly started child runtime, and undoes it.

    The imported modules computed some values from the template's own home folder (caches under HOME,
    HF_HOME, ...): `scan` finds the module-level strings and paths that hold it, and `restore` points
    them at the student process's scratch folder, as if it had imported them with its own environment.
    The temporary folder is looked up again, and torch's and numpy's generators are reseeded from the
    system, as a fresh process's are (Python's `random` reseeds itself on fork).
    """

    def __init__(self, home: str) -> None:
        self.home = home
        self.derived: dict[tuple[str, str], str | PurePath] = {}
        self.scanned: set[str] = set()

    def scan(self) -> None:
        for module_name, module in list(sys.modules.items()):
            if module_name in self.scanned:
                continue
            self.scanned.add(module_name)
            for name, value in list(getattr(module, "__dict__", {}).items()):
                if issubclass(type(value), str | PurePath) and self.home in str(value):
                    self.derived[(module_name, name)] = value

    def restore(self, scratch: str) -> None:
        import numpy as np
        import torch

        for (module_name, name), value in self.derived.items():
            module = sys.modules.get(module_name)
            if module is not None:
                setattr(module, name, type(value)(str(value).replace(self.home, scratch)))
        tempfile.tempdir = None
        torch.seed()
        np.random.seed()


def _fork_watcher(
    control: socket.socket, order: dict[str, Any], fds: list[int], fresh: Fresh, serve_grader: ServeGrader
) -> None:
    import torch

    if torch.cuda.is_initialized():
        print("the template initialised CUDA: it cannot fork a student process", file=sys.stderr)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork():
        return
    status = 1
    try:
        control.detach()
        status = _watch(order, fds, fresh, serve_grader)
    finally:
        os._exit(status)


def _watch(order: dict[str, Any], fds: list[int], fresh: Fresh, serve_grader: ServeGrader) -> int:
    """The watcher: fork the student process, report its pid and its end, reap it once released."""
    from grader.sandbox import launch

    launch.die_with_parent()
    exit_write = fds[-1]
    pid = os.fork()
    if pid == 0:
        try:
            _become_student(order, fds[:-1], fresh, serve_grader)
        except BaseException:  # noqa: BLE001 - our bug: say so in the child's output, which is logged
            traceback.print_exc()
        finally:
            os._exit(1)
    _close_all_but([0, 1, 2, exit_write])
    try:
        os.write(exit_write, PID.pack(pid))
        ended = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        assert ended is not None  # None only with WNOHANG
        code = ended.si_status if ended.si_code == os.CLD_EXITED else -ended.si_status
        os.write(exit_write, PID.pack(code))
        released = select.poll()
        released.register(exit_write, 0)
        released.poll()
    except OSError:
        pass  # the grader closed its end early: it is done with this process
    with suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return 0


def _close_all_but(keep: list[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            with suppress(OSError):
                os.close(int(name))


def _arrange(fds: list[int]) -> None:
    """/dev/null at 0, the output at 1 and 2, the request, reply and report pipes at STUDENT_FDS, and
    no other descriptor (none of the template's)."""
    import fcntl

    request, reply, report, output = fds
    devnull = os.open(os.devnull, os.O_RDWR)
    wanted = (devnull, output, output, request, reply, report)
    lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, 256) for fd in wanted]
    for target, fd in enumerate(lifted):
        os.dup2(fd, target)
    _close_all_but(list(range(len(wanted))))


def _become_student(order: dict[str, Any], fds: list[int], fresh: Fresh, serve_grader: ServeGrader) -> None:
    """Confine this process as launch.py does, report, become what a fresh child would be, serve."""
    from grader.sandbox import launch

    _arrange(fds)
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    spec = order["spec"]
    report = launch.confine(spec)
    os.umask(0o077)
    with os.fdopen(spec["report_fd"], "w") as channel:
        channel.write(json.dumps(report))
    fresh.restore(os.environ["HOME"])
    request_fd, reply_fd = STUDENT_FDS[:2]
    sys.argv = ["-c", str(request_fd), str(reply_fd)]
    serve_grader(request_fd, reply_fd)
