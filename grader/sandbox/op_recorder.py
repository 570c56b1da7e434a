"""Runs in the student's process: records forbidden attention at the operator level during a call.

The from-scratch rule of §2.1 forbids PyTorch's own attention however it is reached: by name, by a
name built from strings, through ``torch._C`` or ``torch.ops``, through ``nn.MultiheadAttention``. Two
modes see every route: a TorchFunctionMode sees the Python-level functions
(``F.scaled_dot_product_attention``, ``F.multi_head_attention_forward``) and a TorchDispatchMode sees
every ATen operator that runs (the scaled-dot-product kernels of every backend, the fused multi-head
attention and transformer kernels).

This module is imported, and the modes created, before the student's code loads. Student code can
still reach into this process, so what the recorder says is not trusted on its own: each recording
runs a canary operator on a value the trusted side chose, and the trusted side requires that value
back (``grader.integrity.verify_recording``). A recorder that was switched off, replaced or popped
off the mode stack misses the canary, and the call counts as tampered with.

PyTorch's modes belong to the thread that entered them, and a process the call starts has none. So
while a recording is on, the process refuses to start a Python thread or another process
(``NoNewWork``): work hidden there would escape the record. The reading of the code already refuses
every route to threads and processes (grader/reach_rules.py); this is the second layer.
"""

from __future__ import annotations

import _posixsubprocess
import _thread
import os
import threading
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

#: Parts of operator and function names that are PyTorch's own attention.
FORBIDDEN_PARTS = (
    "scaled_dot_product",
    "multi_head_attention",
    "flash_attention",
    "efficient_attention",
    "cudnn_attention",
    "transformer_encoder_layer",
    "_masked_softmax",
)
#: The operator the canary runs: rare in student code, cheap, and on every backend.
CANARY_OP = torch.ops.aten.nextafter.default


class NoNewWork(RuntimeError):
    """Raised when a recorded call tries to start a thread or a process."""


#: Where a thread or a process is started, by module: refused while a recording is on.
STARTERS = (
    (_thread, "start_new_thread"),
    (threading, "_start_new_thread"),
    (os, "fork"),
    (os, "forkpty"),
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (os, "system"),
    (_posixsubprocess, "fork_exec"),
)
#: Whether a recording is on, and whether the starters are wrapped: one state per process.
_recording = [False]
_guarded = [False]


def _refusing(start: Callable[..., Any]) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        if _recording[0]:
            raise NoNewWork("code graded as §2.1 attention may not start threads or processes")
        return start(*args, **kwargs)

    return refused


def _guard_starters() -> None:
    """Wrap every place a thread or process starts (once per process, before student code runs)."""
    if _guarded[0]:
        return
    _guarded[0] = True
    for module, name in STARTERS:
        start = getattr(module, name, None)
        if start is not None:
            setattr(module, name, _refusing(start))


def forbidden(name: str) -> bool:
    return any(part in name for part in FORBIDDEN_PARTS)


class _Operators(TorchDispatchMode):
    def __init__(self, recorder: OpRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = str(func)
        if func is CANARY_OP:
            self.recorder.canary.append(float(args[0].reshape(-1)[0]))
        elif forbidden(name):
            self.recorder.seen.append(name)
        return func(*args, **(kwargs or {}))


class _Functions(TorchFunctionMode):
    def __init__(self, recorder: OpRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", "")
        if forbidden(name):
            self.recorder.seen.append(name)
        return func(*args, **(kwargs or {}))


class OpRecorder:
    """Records, while active, the forbidden attention that runs and the canary values it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.canary: list[float] = []
        _guard_starters()
        self._modes = (_Functions(self), _Operators(self))
        self._nextafter = torch.nextafter
        self._tensor = torch.tensor

    def __enter__(self) -> OpRecorder:
        self.seen, self.canary = [], []
        _recording[0] = True
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *error: object) -> None:
        _recording[0] = False
        for mode in reversed(self._modes):
            try:
                mode.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - student code emptied the mode stack: the canary tells
                self.canary.append(float("nan"))

    def run_canary(self, value: float) -> None:
        """Run the canary operator on ``value``; an active recorder notes the value."""
        start = self._tensor([value], dtype=torch.float64)
        self._nextafter(start, start)

    def report(self) -> dict[str, Any]:
        return {"forbidden": sorted(set(self.seen))[:20], "canary": self.canary[:4]}
