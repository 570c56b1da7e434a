"""The trusted side of the sandbox: start the student's process, talk to it, and end it.

Every request has a deadline. When it passes, or when anything interrupts a request midway (a
pytest-timeout included), the whole process group is SIGKILLed, and, when the child ran under a
dedicated uid, every process of that uid too, so nothing the student spawned survives. The child's
stdout/stderr are drained by a thread that keeps only the head and the tail.
"""

from __future__ import annotations

import io
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.sandbox import wire
from grader.sandbox.identity import Identity, kill_all_of

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv.pop(1)); from grader.sandbox.child import main; main()"
PASSED_ENV = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "OMP_NUM_THREADS")


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
    """A scrubbed environment: nothing of the grader's own, offline Hugging Face, caches in scratch."""
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        HOME=str(scratch),
        TMPDIR=str(scratch),
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
    )
    env.update(extra)
    return env


class StudentProcess:
    """One sandboxed child holding one section's definitions."""

    def __init__(
        self, identity: Identity, limits: SandboxLimits, extra_env: dict[str, str] | None = None
    ) -> None:
        self.identity = identity
        self.limits = limits
        self.output = OutputTail(limits.output_kept_bytes)
        self.scratch_root = Path(tempfile.mkdtemp(prefix="a2grader-"))
        os.chmod(self.scratch_root, 0o711)
        self.scratch = self.scratch_root / "work"
        self.scratch.mkdir(mode=0o700)
        if identity.drops_privileges:
            os.chown(self.scratch, identity.uid, identity.gid)
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        argv = [
            sys.executable,
            str(Path(__file__).with_name("launch.py")),
            str(identity.uid),
            str(identity.gid),
            str(limits.cpu_seconds),
            str(limits.memory_bytes),
            str(int(limits.block_network)),
            "--",
            sys.executable,
            "-I",
            "-c",
            BOOTSTRAP,
            str(REPO_ROOT),
            str(request_read),
            str(reply_write),
        ]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.scratch,
            env=child_environment(self.scratch, extra_env or {}),
            pass_fds=(request_read, reply_write),
        )
        os.close(request_read)
        os.close(reply_write)
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        self.alive = True

    def _drain_output(self) -> None:
        stdout = self.process.stdout
        assert isinstance(stdout, io.BufferedReader)
        for chunk in iter(lambda: stdout.read1(65536), b""):
            self.output.feed(chunk)

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
        self, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None, timeout: float
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Send one request and wait for its reply; kill the child on timeout or interruption."""
        if not self.alive:
            raise ChildGone("was already stopped")
        deadline = time.monotonic() + timeout
        try:
            try:
                wire.write_message(self._request, header, tensors)
            except BrokenPipeError:
                raise ChildGone(self._exit_description()) from None
            head_size, blob_size = wire.HEADER.unpack(self._read_exact(wire.HEADER.size, deadline))
            if head_size + blob_size > self.limits.max_reply_bytes:
                raise wire.WireError(f"the reply is larger than {self.limits.max_reply_bytes >> 20} MB")
            head = self._read_exact(head_size, deadline)
            blob = self._read_exact(blob_size, deadline)
            return wire.unpack(head, blob)
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        """End the child, its process group, and every process of a dedicated sandbox uid."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        kill_all_of(self.identity)
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
        shutil.rmtree(self.scratch_root, ignore_errors=True)

    def stop(self) -> None:
        """Ask the child to leave, then make sure it and everything it started are gone."""
        if self.alive and self.process.poll() is None:
            try:
                wire.write_message(self._request, {"op": "bye"})
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
