"""The trusted side of the sandbox: start the student's process, talk to it, and end it.

The child is forked by the grading run's warm template (fork_server.py) and confined by launch.py,
which reports how on a pipe of its own, before any student code runs; that report (`confinement`) is
what the grader logs and records.
Every request has a deadline and a reply cap. When the deadline passes, or when anything interrupts
a request midway (a pytest-timeout included), the whole process group is SIGKILLed, and every
process of the sandbox uid is stopped and killed, so nothing the student spawned survives. Then
whatever the uid left in the shared temporary folders and System V IPC is removed, and the child's
scratch folder with it. The child's stdout/stderr are drained by a thread that keeps only the head
and the tail.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.sandbox import wire
from grader.sandbox.cleanup import remove_tree, sweep_uid
from grader.sandbox.fork_server import STUDENT_FDS, ForkedProcess, ForkServer
from grader.sandbox.identity import Identity, start_ticks, stop_all_of
from grader.sandbox.protocol import ByeRequest, LaunchSpec, Request

log = logging.getLogger("grader")
REPO_ROOT = Path(__file__).resolve().parents[2]
# How long confining the child and reporting may take (only our code runs meanwhile).
REPORT_TIMEOUT = 60.0
PASSED_ENV = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "OMP_NUM_THREADS")


def _size(count: int) -> str:
    return f"{count >> 20} MB" if count >= 1 << 20 else f"{count >> 10} KB"


class ChildGone(Exception):
    """The child exited or was killed; `how` says which, for the student."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class ChildTimeout(Exception):
    """A request passed its deadline; the child has been killed."""


@dataclass
class SandboxLimits:
    cpu_seconds: int = 1800
    memory_bytes: int = 0
    block_network: bool = True
    output_kept_bytes: int = 65536
    max_reply_bytes: int = 2 << 30
    file_bytes: int = 1 << 30
    namespaces: bool = True


@dataclass
class ChildView:
    """What the child may read (read-only) besides the system folders: the staged code, the
    interpreter, the profile's model folder."""

    code: Path
    interpreter: list[Path]
    model: Path | None = None

    def labelled(self) -> list[tuple[str, Path]]:
        """(what it is, where) for each folder; the report names only the what, so it is stable."""
        named = [("staged code", self.code), *(("interpreter", path) for path in self.interpreter)]
        return named + ([("model", self.model)] if self.model is not None else [])


@dataclass
class OutputTail:
    """Keeps the first and last `limit // 2` bytes of a stream and counts the rest."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        excess = len(self.tail) - self.limit // 2
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        middle = f"\n[… {self.dropped} bytes of output not kept …]\n" if self.dropped else ""
        return (bytes(self.head) + middle.encode() + bytes(self.tail)).decode("utf-8", errors="replace")


def child_environment(scratch: Path, extra: dict[str, str]) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's own, offline Hugging Face, caches and
    temporary files in the private scratch folder, and OpenMP threads that sleep while they wait
    (spinning ones cost a busy machine far more than they save: see drivers/threshold.py)."""
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        HOME=str(scratch),
        TMPDIR=str(scratch / "tmp"),
        LANG="C.UTF-8",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(scratch / ".matplotlib"),
        XDG_CACHE_HOME=str(scratch / ".cache"),
        HF_HOME=str(scratch / ".cache" / "huggingface"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
        TQDM_DISABLE="1",
        OMP_WAIT_POLICY="PASSIVE",
    )
    env.update(extra)
    return env


def launch_spec(
    identity: Identity,
    limits: SandboxLimits,
    view: ChildView,
    scratch_root: Path,
    scratch: Path,
    fds: list[int],
) -> LaunchSpec:
    """What launch.py is told: who to become, what to limit, what the child's root holds; `fds` are the
    request, reply and report pipes as the confined process numbers them."""
    return {
        "uid": identity.uid,
        "gid": identity.gid,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.file_bytes,
        "block_network": limits.block_network,
        "namespaces": limits.namespaces,
        "new_root": str(scratch_root / "root"),
        "readable": [str(path) for _, path in view.labelled()],
        "readable_labels": list(dict.fromkeys(label for label, _ in view.labelled())),
        "writable": [str(scratch)],
        "report_fd": fds[-1],
        "close_in_launcher": fds,
    }


def template_for(view: ChildView, preloaded: tuple[str, ...] = ()) -> ForkServer:
    """A grading run's warm template: it imports from the staged code, in the children's environment,
    and imports `preloaded` while it waits."""
    return ForkServer(view.code, child_environment, preloaded)


class StudentProcess:
    """One sandboxed child holding one section's definitions, forked by the run's `template`."""

    def __init__(
        self,
        identity: Identity,
        limits: SandboxLimits,
        view: ChildView,
        template: ForkServer,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.identity = identity
        self.limits = limits
        self.output = OutputTail(limits.output_kept_bytes)
        self.scratch_root = Path(tempfile.mkdtemp(prefix="a2grader-"))
        os.chmod(self.scratch_root, 0o711)
        (self.scratch_root / "root").mkdir(mode=0o755)
        self.scratch = self.scratch_root / "work"
        self.scratch.mkdir(mode=0o700)
        (self.scratch / "tmp").mkdir(mode=0o700)
        if identity.drops_privileges:
            for folder in (self.scratch, self.scratch / "tmp"):
                os.chown(folder, identity.uid, identity.gid)
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        report_read, report_write = os.pipe()
        self._output, output_write = os.pipe()
        exit_read, exit_write = os.pipe()
        spec = launch_spec(identity, limits, view, self.scratch_root, self.scratch, list(STUDENT_FDS))
        environment = child_environment(self.scratch, extra_env or {})
        order = {"spec": spec, "env": environment, "cwd": str(self.scratch)}
        sent = [request_read, reply_write, report_write, output_write, exit_write]
        self.started_ns = time.time_ns()
        try:
            self.process: ForkedProcess = template.fork(order, sent, exit_read)
        except BaseException:
            for fd in (report_read, self._request, self._reply, self._output, exit_read):
                os.close(fd)
            raise
        finally:
            for fd in sent:
                os.close(fd)
        self.started_ticks = start_ticks(self.process.pid)
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        self.alive = True
        self.confinement = self._read_report(report_read)

    def _read_report(self, fd: int) -> dict[str, Any]:
        """The launcher's account of the confinement it achieved (read before any student code runs)."""
        chunks, deadline = [], time.monotonic() + REPORT_TIMEOUT
        try:
            while (timeout := deadline - time.monotonic()) > 0 and select.select([fd], [], [], timeout)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            return {"error": "the launcher did not report (it failed before the child started)"}

    def _drain_output(self) -> None:
        try:
            for chunk in iter(lambda: os.read(self._output, 65536), b""):
                self.output.feed(chunk)
        finally:
            os.close(self._output)

    def _read_exact(self, size: int, deadline: float) -> bytes:
        chunks, remaining = [], size
        while remaining:
            timeout = deadline - time.monotonic()
            if timeout <= 0 or not select.select([self._reply], [], [], timeout)[0]:
                raise ChildTimeout
            chunk = os.read(self._reply, min(remaining, 1 << 20))
            if not chunk:
                raise ChildGone(self._exit_description())
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            return f"was killed by {name}" + (" (CPU time limit)" if name == "SIGXCPU" else "")
        return f"exited with code {code}"

    def request(
        self,
        header: Request,
        tensors: dict[str, torch.Tensor] | None,
        timeout: float,
        max_reply_bytes: int | None = None,
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Send one request and wait for its reply (at most `max_reply_bytes`, default the limits');
        kill the child on timeout or interruption."""
        cap = min(max_reply_bytes or self.limits.max_reply_bytes, self.limits.max_reply_bytes)
        if not self.alive:
            raise ChildGone("was already stopped")
        deadline = time.monotonic() + timeout
        try:
            try:
                wire.write_message(self._request, header, tensors)
            except BrokenPipeError:
                raise ChildGone(self._exit_description()) from None
            head_size, blob_size = wire.HEADER.unpack(self._read_exact(wire.HEADER.size, deadline))
            if head_size + blob_size > cap:
                raise wire.WireError(f"the reply is larger than the {_size(cap)} the grader accepts here")
            head = self._read_exact(head_size, deadline)
            blob = self._read_exact(blob_size, deadline)
            return wire.unpack(head, blob)
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        """End the child, its process group and every process of the sandbox uid it started; reap."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        stop_all_of(self.identity, self.started_ticks)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._close()

    def _close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        for fd in (self._request, self._reply):
            try:
                os.close(fd)
            except OSError:
                pass
        self._drain.join(timeout=5)
        self.process.release()
        if self.identity.drops_privileges:
            sweep_uid(self.identity.uid, 0 if self.identity.dedicated else self.started_ns)
        for problem in remove_tree(self.scratch_root):
            log.warning("removing the sandbox's scratch folder: %s", problem)

    def stop(self) -> None:
        """Ask the child to leave, then make sure it and everything it started are gone."""
        if self.alive and self.process.poll() is None:
            try:
                bye: ByeRequest = {"op": "bye"}
                wire.write_message(self._request, bye)
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
