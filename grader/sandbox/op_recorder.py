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
"""

from __future__ import annotations

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
        self._modes = (_Functions(self), _Operators(self))
        self._nextafter = torch.nextafter
        self._tensor = torch.tensor

    def __enter__(self) -> OpRecorder:
        self.seen, self.canary = [], []
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *error: object) -> None:
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
