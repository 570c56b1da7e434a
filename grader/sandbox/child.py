"""The student's interpreter: loads the kept statements, then answers requests until told to stop.

This runs as the unprivileged sandbox identity, in a fork of the warm template (fork_server.py) that
launch.py confined. It speaks to the grader over two pipes (requests in, replies out) using wire.py,
and never sends anything but JSON and safetensors. Everything here treats student code as hostile:
every exception, SystemExit included, becomes a structured reply instead of ending the process.
"""

from __future__ import annotations

import ast
import copy
import ctypes
import importlib
import json
import os
import random
import re
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from grader.sandbox import library_versions, notebook_habits, wire
from grader.sandbox.op_recorder import OpRecorder
from grader.sandbox.protocol import (
    STAND_INS_VARIABLE,
    STUDENTS_LIBRARIES_VARIABLE,
    BadValueError,
    CallRequest,
    Error,
    ErrorReply,
    GetRequest,
    LoadFailure,
    LoadReply,
    LoadRequest,
    MissingError,
    Request,
    RunRequest,
    StudentError,
    UnitSpec,
    ValueReply,
)

ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
MAX_MESSAGE = 2000
PR_SET_DUMPABLE = 4


class MissingModule:
    """Stands in for a name whose import failed; any use of it fails, naming the missing module, so
    the statement using it fails like any other (its target stays undefined)."""

    def __init__(self, name: str, reason: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_reason", reason)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise ModuleNotFoundError(
            f"{self._reason} -- the grader does not have this module, and your answer uses it"
        )

    def __getattr__(self, _: str) -> Any:
        self._fail()

    __call__ = __iter__ = __len__ = __getitem__ = __bool__ = __float__ = __int__ = __index__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = __rmatmul__ = _fail
    __truediv__ = __rtruediv__ = __pow__ = __neg__ = __array__ = _fail


def _make_stand_ins(spec: str) -> None:
    """Links in the working folder from the names a notebook loads its model and data by
    (`from_pretrained("org/model")`, `load_dataset("org/data")`) to the grader's local copies:
    transformers and datasets read a local folder of that name first. `spec` is JSON {name: folder}."""
    for name, folder in (json.loads(spec) if spec else {}).items():
        link = Path(name)
        if link.is_absolute() or ".." in link.parts or link.exists():
            continue
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(folder, target_is_directory=True)
        except OSError as error:
            print(f"grader: no stand-in {name!r} in {Path.cwd()}: {error}", file=sys.stderr)


def _names_bound(code: ast.Module | str) -> list[str]:
    """The names an import binds (`import a.b` binds `a`; `from m import x as y` binds `y`)."""
    tree = code if isinstance(code, ast.Module) else ast.parse(code)
    return [
        alias.asname or alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if alias.name != "*"
    ]


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


@dataclass(frozen=True)
class Returned:
    """What a call, get or run gave back, and for a recorded call what the recorder saw."""

    value: Any
    recorded: dict[str, Any] | None = None


class Child:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out
        self.module = types.ModuleType("student")
        self.filename = "<submission>"
        self.load_failures: list[LoadFailure] = []
        self.pid = os.getpid()
        self.request_id = ""
        # Created before any student code runs; see op_recorder.py for why that is not enough alone.
        self.recorder = OpRecorder()
        sys.modules["student"] = self.module

    def student_frame(self, error: BaseException) -> traceback.FrameSummary | None:
        """The last frame of the student's file in the traceback, if it reaches their file."""
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == self.filename]
        return frames[-1] if frames else None

    def raised_here(self, error: BaseException) -> bool:
        """Whether the student's own file raised `error` (the template's `raise NotImplementedError`),
        rather than a library it called (PyTorch's NotImplementedError for an unusual device)."""
        frames = traceback.extract_tb(error.__traceback__)
        return bool(frames) and frames[-1].filename == self.filename

    def failure(self, error: BaseException, name: str) -> StudentError:
        frame = self.student_frame(error)
        if isinstance(error, SystemExit):
            message = f"your code called exit/sys.exit({error.code!r})"
        elif isinstance(error, AttributeError) and getattr(error, "obj", None) is self.module:
            # Not "module 'student' has no attribute …": that module is ours, the file is theirs.
            message = f"`{error.name}` is not defined in {self.filename}"
        else:
            message = _clean(str(error))
        failure: StudentError = {
            "kind": "raised",
            "name": name,
            "type": type(error).__name__,
            "message": message,
        }
        if isinstance(error, NotImplementedError) and self.raised_here(error):
            failure["kind"] = "not_implemented"
            if frame is not None and frame.name != "<module>":
                failure["name"] = frame.name
        if frame is not None:
            failure["lineno"] = frame.lineno
            failure["function"] = frame.name
        return failure

    def load(self, header: LoadRequest) -> dict[str, Any]:
        notebook_habits.install()
        library_versions.install_stand_ins(os.environ.get(STUDENTS_LIBRARIES_VARIABLE, ""))
        # The notebook's relative paths (and the stand-ins' links) live in the process's own folder.
        os.chdir(os.environ.get("HOME", "."))
        _make_stand_ins(os.environ.get(STAND_INS_VARIABLE, ""))
        self.filename = header["filename"]
        self.module.__file__ = self.filename
        namespace = self.module.__dict__
        for unit in header["units"]:
            for lineno, code in self.pieces(unit):
                try:
                    exec(compile(code, self.filename, "exec"), namespace)
                except ImportError as error:
                    if unit["kind"] != "import":
                        # Like any other failed statement: what it binds stays undefined.
                        self.load_failures.append({**self.failure(error, ""), "binds": unit["binds"]})
                        continue
                    for name in _names_bound(code):
                        namespace[name] = MissingModule(name, _clean(str(error)))
                except BaseException as error:  # noqa: BLE001 - student code may raise anything
                    self.load_failures.append(
                        {**self.failure(error, ""), "binds": unit["binds"], "lineno": lineno}
                    )
        return {"ok": True, "failures": self.load_failures}

    @staticmethod
    def pieces(unit: UnitSpec) -> list[tuple[int, ast.Module | str]]:
        """The code of a unit, run piece by piece: an import statement one name at a time, so that
        `import numpy as np, scipy.special as sps` without scipy still binds numpy."""
        code = "\n" * (unit["lineno"] - 1) + unit["source"]
        if unit["kind"] != "import":
            return [(unit["lineno"], code)]
        try:
            statements = ast.parse(code).body
        except SyntaxError:
            return [(unit["lineno"], code)]
        pieces: list[tuple[int, ast.Module | str]] = []
        for statement in statements:
            if not isinstance(statement, ast.Import | ast.ImportFrom) or len(statement.names) == 1:
                pieces.append((statement.lineno, ast.Module(body=[statement], type_ignores=[])))
                continue
            for alias in statement.names:
                single = copy.copy(statement)
                single.names = [alias]
                pieces.append((statement.lineno, ast.Module(body=[single], type_ignores=[])))
        return pieces

    def lookup(self, name: str) -> tuple[Any, MissingError | None]:
        if name in self.module.__dict__:
            return self.module.__dict__[name], None
        cause = next((f for f in self.load_failures if name in f["binds"]), None)
        return None, {"kind": "missing", "name": name, "cause": cause}

    @staticmethod
    def seed(seed: int) -> None:
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

    def call(self, request: CallRequest, tensors: dict[str, torch.Tensor]) -> Returned | Error:
        name = request["name"]
        function, missing = self.lookup(name)
        if missing:
            return missing
        device = request["device"]
        if device and device.startswith("cuda") and not torch.cuda.is_available():
            return {"kind": "grader", "message": "CUDA was requested but the child has none"}
        args = self.to_device(wire.decode(request["args"], tensors), device)
        kwargs = self.to_device(wire.decode(request["kwargs"], tensors), device)
        self.seed(request["seed"])
        cotangent = request["cotangent"]
        if cotangent is not None:
            cotangent = self.to_device(wire.decode(cotangent, tensors), device)
        canary = request["record"]
        try:
            if canary:
                with self.recorder:
                    self.recorder.run_canary(canary[0])
                    value = self.run_function(function, args, kwargs, cotangent)
                    self.recorder.run_canary(canary[1])
            else:
                value = self.run_function(function, args, kwargs, cotangent)
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            return self.failure(error, name)
        return Returned(value, self.recorder.report() if canary else None)

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

    def get(self, request: GetRequest) -> Returned | Error:
        value, missing = self.lookup(request["name"])
        return missing if missing else Returned(value)

    def run(self, request: RunRequest, tensors: dict[str, torch.Tensor]) -> Returned | Error:
        module_name, _, function_name = request["target"].partition(":")
        driver = getattr(importlib.import_module(module_name), function_name)
        params = wire.decode(request["params"], tensors)
        self.seed(request["seed"])
        try:
            return Returned(driver(self.module, **params))
        except BaseException as error:  # noqa: BLE001 - the driver runs student code
            return self.failure(error, request["target"])

    def send(
        self, reply: LoadReply | ValueReply | ErrorReply, tensors: dict[str, torch.Tensor] | None = None
    ) -> None:
        if os.getpid() != self.pid:
            # A copy made by os.fork in student code must never answer in the child's name.
            os._exit(0)
        wire.write_message(self.fd_out, reply, tensors)

    def answer(self, outcome: Returned | Error) -> None:
        """Reply to a call, get or run with its value, or with its error when it failed or the value
        cannot cross the wire. Every reply carries the request's id, which student code never sees:
        a reply it forged cannot carry it."""
        if not isinstance(outcome, Returned):
            self.send({"id": self.request_id, "ok": False, "error": outcome})
            return
        try:
            tree, tensors, devices = wire.encode(outcome.value)
        except Exception as error:  # noqa: BLE001 - a student's container may raise anything
            unreadable: BadValueError = {"kind": "bad_value", "message": _clean(str(error))}
            self.send({"id": self.request_id, "ok": False, "error": unreadable})
            return
        reply: ValueReply = {"id": self.request_id, "ok": True, "value": tree, "devices": devices}
        if outcome.recorded is not None:
            reply["recorded"] = outcome.recorded
        self.send(reply, tensors)

    def serve(self) -> None:
        while True:
            try:
                head_size, blob_size = wire.HEADER.unpack(_read_exact(self.fd_in, wire.HEADER.size))
                header, tensors = wire.unpack(
                    _read_exact(self.fd_in, head_size), _read_exact(self.fd_in, blob_size)
                )
            except EOFError:
                return
            request = cast(Request, header)
            self.request_id = str(header.get("id", ""))
            if request["op"] == "bye":
                return
            if request["op"] == "load":
                loaded = self.load(request)
                self.send({"id": self.request_id, "ok": True, "failures": loaded["failures"]})
            elif request["op"] == "call":
                self.answer(self.call(request, tensors))
            elif request["op"] == "get":
                self.answer(self.get(request))
            elif request["op"] == "run":
                self.answer(self.run(request, tensors))
            else:
                self.answer({"kind": "grader", "message": f"unknown operation {header.get('op')!r}"})


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
