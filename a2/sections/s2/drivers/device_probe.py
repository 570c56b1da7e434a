"""Runs the student's self_attention with its inputs on PyTorch's `meta` device, inside the sandbox.

A `meta` tensor has a shape and a dtype but no values, so the run costs nothing. Code that makes a
tensor of its own on a fixed device (`torch.ones(n, n)` on the CPU, `device=DEVICE`) and combines it
with the scores fails here exactly as it fails on a GPU ("Tensor on device meta is not on the
expected device cpu"), so "works on CPU, breaks on GPU" shows on a machine without a GPU.

What this reports is a hint for a note, never a verdict: it runs in the student's process.
"""

from __future__ import annotations

import traceback
from types import ModuleType
from typing import Any

import torch


def probe(student: ModuleType, batch: int, n_tok: int, n_embd: int, n_heads: int) -> dict[str, Any]:
    """`problem`: the error a device mix-up raised, or the device of a result that left `meta`."""
    attention = getattr(student, "self_attention", None)
    if attention is None:
        return {"problem": ""}
    q, k, v = (torch.zeros(batch, n_tok, n_embd, device="meta") for _ in range(3))
    try:
        out = attention(q, k, v, n_heads=n_heads, causal=True)
    except NotImplementedError as error:
        if traceback.extract_tb(error.__traceback__)[-1].filename == getattr(student, "__file__", None):
            raise  # still the template's TODO: the check says so, as every other check does
        return {"problem": ""}  # an operation PyTorch cannot run on `meta`: nothing about devices
    except Exception as error:  # noqa: BLE001 - student code may raise anything
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        return {"problem": message if "device" in message else ""}
    if isinstance(out, torch.Tensor) and out.device.type != "meta":
        return {"problem": f"the result came back on {out.device.type}, not on the inputs' device"}
    return {"problem": ""}
