"""The student's interpreter: loads the kept statements, then answers requests until told to stop.

This runs as the unprivileged sandbox identity, in a fork of the warm template (fork_server.py) that
launch.py confined. It speaks to the grader over two pipes (requests in, replies out) using wire.py,
and never sends anything but JSON and safetensors. Everything here treats student code as hostile:
every exception, SystemExit included, becomes a structured reply instead of ending the process.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import random
import re
import sys
import traceback
import types
from typing import Any

import numpy as np
import torch

from grader.sandbox import notebook_habits, wire
from grader.sandbox.op_recorder import OpRecorder

ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
MAX_MESSAGE = 2000
PR_SET_DUMPABLE = 4


class MissingModule:
    """Stands in for a module the grader lacks; fails only when the student's answer uses it."""

    def __init__(self, name: str, reason: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_reason", reason)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise ModuleNotFoundError(
            f"{self._reason} -- the grader does not have this module, and your answer uses it"
        )

    def __getattr__(self, _: str) -> Any:
        self._fail()

    __call__ = _fail


def _read_exact(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _clean(text: str) -> str:
    text = ADDRESS.sub("0x…", text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " …"


class Child:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out
        self.module = types.ModuleType("student")
        self.filename = "<submission>"
        self.load_failures: list[dict[str, Any]] = []
        self.pid = os.getpid()
        self.request_id: str | None = None
        # Created before any student code runs; see op_recorder.py for why that is not enough alone.
        self.recorder = OpRecorder()
        sys.modules["student"] = self.module

    def student_frame(self, error: BaseException) -> dict[str, Any]:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == self.filename]
        if not frames:
            return {}
        last = frames[-1]
        return {"lineno": last.lineno, "function": last.name}

    def failure(self, error: BaseException, name: str) -> dict[str, Any]:
        frame = self.student_frame(error)
        if isinstance(error, NotImplementedError):
            kind = "not_implemented"
            name = frame.get("function", name) if frame.get("function") != "<module>" else name
        else:
            kind = "raised"
        if isinstance(error, SystemExit):
            message = f"your code called exit/sys.exit({error.code!r})"
        elif isinstance(error, AttributeError) and getattr(error, "obj", None) is self.module:
            # Not "module 'student' has no attribute …": that module is ours, the file is theirs.
            message = f"`{error.name}` is not defined in {self.filename}"
        else:
            message = _clean(str(error))
        return {"kind": kind, "name": name, "type": type(error).__name__, "message": message, **frame}

    def load(self, header: dict[str, Any]) -> dict[str, Any]:
        notebook_habits.install()
        self.filename = header["filename"]
        self.module.__file__ = self.filename
        namespace = self.module.__dict__
        for unit in header["units"]:
            code = "\n" * (unit["lineno"] - 1) + unit["source"]
            try:
                exec(compile(code, self.filename, "exec"), namespace)
            except ImportError as error:
                if unit["kind"] != "import":
                    self.load_failures.append({**self.failure(error, ""), "binds": unit["binds"]})
                for name in unit["binds"]:
                    namespace[name] = MissingModule(name, _clean(str(error)))
            except BaseException as error:  # noqa: BLE001 - student code may raise anything
                self.load_failures.append(
                    {**self.failure(error, ""), "binds": unit["binds"], "lineno": unit["lineno"]}
                )
        return {"ok": True, "failures": self.load_failures}

    def lookup(self, name: str) -> tuple[Any, dict[str, Any] | None]:
        if name in self.module.__dict__:
            return self.module.__dict__[name], None
        cause = next((f for f in self.load_failures if name in f["binds"]), None)
        return None, {"kind": "missing", "name": name, "cause": cause}

    @staticmethod
    def seed(seed: int | None) -> None:
        if seed is None:
            return
        torch.manual_seed(seed)
        np.random.seed(seed % (2**32))
        random.seed(seed)

    @staticmethod
    def to_device(value: Any, device: str | None) -> Any:
        if device is None or device == "cpu":
            return value
        if isinstance(value, torch.Tensor):
            return value.to(device)
        if isinstance(value, list | tuple):
            moved = [Child.to_device(v, device) for v in value]
            return moved if isinstance(value, list) else tuple(moved)
        if isinstance(value, dict):
            return {k: Child.to_device(v, device) for k, v in value.items()}
        return value

    def call(self, header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> tuple[dict[str, Any], Any]:
        name = header["name"]
        function, missing = self.lookup(name)
        if missing:
            return {"ok": False, "error": missing}, None
        device = header.get("device")
        if device and device.startswith("cuda") and not torch.cuda.is_available():
            return {
                "ok": False,
                "error": {"kind": "grader", "message": "CUDA was requested but is unavailable"},
            }, None
        args = self.to_device(wire.decode(header.get("args", []), tensors), device)
        kwargs = self.to_device(wire.decode(header.get("kwargs", {}), tensors), device)
        self.seed(header.get("seed"))
        cotangent = header.get("cotangent")
        if cotangent is not None:
            cotangent = self.to_device(wire.decode(cotangent, tensors), device)
        canary = header.get("record")
        try:
            if canary:
                with self.recorder:
                    self.recorder.run_canary(canary[0])
                    value = self.run_function(function, args, kwargs, cotangent)
                    self.recorder.run_canary(canary[1])
            else:
                value = self.run_function(function, args, kwargs, cotangent)
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            return {"ok": False, "error": self.failure(error, name)}, None
        return ({"ok": True, "recorded": self.recorder.report()} if canary else {"ok": True}), value

    def run_function(self, function: Any, args: list, kwargs: dict, cotangent: Any) -> Any:
        """Call the function; with a cotangent, also its vector-Jacobian product for the tensor
        arguments (zeros where no gradient reaches one): ``{"output": ..., "grads": [...]}``."""
        inputs = []
        if cotangent is not None:
            inputs = [
                a.requires_grad_() for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()
            ]
        value = function(*args, **kwargs)
        if cotangent is not None:
            grads = None
            if isinstance(value, torch.Tensor) and value.requires_grad and value.shape == cotangent.shape:
                found = torch.autograd.grad(value, inputs, cotangent.to(value.dtype), allow_unused=True)
                grads = [torch.zeros_like(a) if g is None else g for a, g in zip(inputs, found, strict=True)]
            value = {"output": value, "grads": grads}
        return value

    def get(self, header: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        value, missing = self.lookup(header["name"])
        if missing:
            return {"ok": False, "error": missing}, None
        return {"ok": True}, value

    def run(self, header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> tuple[dict[str, Any], Any]:
        module_name, _, function_name = header["target"].partition(":")
        driver = getattr(importlib.import_module(module_name), function_name)
        params = wire.decode(header.get("params", {}), tensors)
        self.seed(header.get("seed"))
        try:
            return {"ok": True}, driver(self.module, **params)
        except BaseException as error:  # noqa: BLE001 - the driver runs student code
            return {"ok": False, "error": self.failure(error, header["target"])}, None

    def reply(self, header: dict[str, Any], value: Any = None) -> None:
        if os.getpid() != self.pid:
            # A copy made by os.fork in student code must never answer in the child's name.
            os._exit(0)
        tensors: dict[str, torch.Tensor] = {}
        if header.get("ok") and "value" not in header:
            try:
                header["value"], tensors, header["devices"] = wire.encode(value)
            except Exception as error:  # noqa: BLE001 - a student's container may raise anything
                header = {"ok": False, "error": {"kind": "bad_value", "message": _clean(str(error))}}
        # The request's id, which student code never sees: a reply it forged cannot carry it.
        header["id"] = self.request_id
        wire.write_message(self.fd_out, header, tensors)

    def serve(self) -> None:
        while True:
            try:
                head_size, blob_size = wire.HEADER.unpack(_read_exact(self.fd_in, wire.HEADER.size))
                header, tensors = wire.unpack(
                    _read_exact(self.fd_in, head_size), _read_exact(self.fd_in, blob_size)
                )
            except EOFError:
                return
            op = header.get("op")
            self.request_id = header.get("id")
            if op == "bye":
                return
            if op == "load":
                self.reply(self.load(header))
            elif op == "call":
                self.reply(*self.call(header, tensors))
            elif op == "get":
                self.reply(*self.get(header))
            elif op == "run":
                self.reply(*self.run(header, tensors))
            else:
                self.reply({"ok": False, "error": {"kind": "grader", "message": f"unknown op {op!r}"}})


def _non_dumpable() -> None:
    """No other process of the sandbox uid may read this one's memory (/proc/PID/mem) or trace it.
    Done before any student code is read; changing to the sandbox uid had reset it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def main(fd_in: int, fd_out: int) -> None:
    """Serve the grader on the request pipe `fd_in` and the reply pipe `fd_out` until told to stop.
    Called by the template's fork once it is confined (grader/sandbox/fork_server.py)."""
    _non_dumpable()
    for fd in (fd_in, fd_out):
        os.set_inheritable(fd, False)
    sys.stdin = open(os.devnull)
    Child(fd_in, fd_out).serve()
    sys.stdout.flush()
    os._exit(0)
