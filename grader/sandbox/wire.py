"""What crosses between the trusted grader and the student's process, and how.

Nothing the child sends is unpickled. A message is a JSON header plus one safetensors blob holding
every tensor the header refers to. Values are encoded as a small tagged tree: JSON scalars as
themselves, tensors and numpy arrays as references into the blob, containers with a tag, and anything
else as an `Opaque` (type name and a short text) that a check can report but never execute.

`decode` is where every value from the student's process becomes a known type before the trusted side
computes with it: a tensor of a dtype the checks read (READABLE_DTYPES: no float8, no unsigned
16/32/64-bit, no complex) and of at most MAX_DIMS dimensions, integers that fit in 64 bits, strings of
at most MAX_TEXT characters. Anything else is a WireError, which fails the test that asked with a
message for the student (never "internal error"): `torch.isfinite` on a float8 tensor, or
`float(10**400)`, would otherwise raise in the grader's own code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

HEADER = struct.Struct("!QQ")
MAX_DEPTH = 32
MAX_ITEMS = 200_000
MAX_TEXT = 20_000
MAX_DIMS = 16
#: The dtypes a value may hold when it reaches the trusted side.
READABLE_DTYPES = frozenset(
    {
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    }
)
INTEGER_RANGE = range(-(1 << 63), 1 << 64)


class WireError(ValueError):
    """A value cannot be encoded or a message is malformed."""


@dataclasses.dataclass(frozen=True)
class Opaque:
    """A value of a type that does not cross the wire; only its type and a short text do."""

    type_name: str
    text: str


class RemoteMapping(dict):
    """A mapping that came from the child, with the name of its original type (e.g. BatchEncoding)."""

    def __init__(self, type_name: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.type_name = type_name


@dataclasses.dataclass(frozen=True)
class RemoteObject:
    """A dataclass instance from the child: its type name and encoded fields."""

    type_name: str
    fields: dict[str, Any]


class _Encoder:
    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.devices: list[str] = []
        self.count = 0

    def tensor(self, value: torch.Tensor, kind: str) -> dict[str, Any]:
        key = f"t{len(self.tensors)}"
        self.devices.append(str(value.device))
        with torch._C.DisableTorchFunctionSubclass():
            # A subclass's own methods never run: what crosses is the plain tensor's data.
            data = torch.Tensor.detach(value).as_subclass(torch.Tensor)
        if data.is_complex() or data.layout != torch.strided:
            raise WireError(f"a {data.dtype} tensor with layout {data.layout} cannot be returned")
        self.tensors[key] = data.to("cpu").contiguous().clone()
        return {"__t": kind, "key": key, "device": str(value.device)}

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise WireError("the value is nested too deeply or holds too many items")
        if value is None or isinstance(value, bool | int | str):
            return value if not isinstance(value, str) else value[:MAX_TEXT]
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__t": "float", "repr": repr(value)}
        if isinstance(value, torch.Tensor):
            return self.tensor(value, "tensor")
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                return self.opaque(value)
            return self.tensor(torch.from_numpy(np.ascontiguousarray(value)), "ndarray")
        if isinstance(value, np.generic):
            return self.encode(value.item(), depth + 1)
        if isinstance(value, list | tuple):
            items = [self.encode(item, depth + 1) for item in value]
            return items if isinstance(value, list) else {"__t": "tuple", "items": items}
        if isinstance(value, Mapping):
            entries = {str(k): self.encode(v, depth + 1) for k, v in value.items()}
            if type(value) is dict:
                return {"__t": "dict", "items": entries}
            return {"__t": "mapping", "type": type(value).__name__, "items": entries}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {
                f.name: self.encode(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
            }
            return {"__t": "object", "type": type(value).__name__, "fields": fields}
        return self.opaque(value)

    @staticmethod
    def opaque(value: Any) -> dict[str, Any]:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a hostile __repr__ must not stop the reply
            text = "<unprintable>"
        return {"__t": "opaque", "type": type(value).__name__, "text": text[:500]}


def encode(value: Any) -> tuple[Any, dict[str, torch.Tensor], list[str]]:
    """Encode a value: (JSON-able tree, tensors by key, the devices the tensors were on)."""
    encoder = _Encoder()
    tree = encoder.encode(value)
    return tree, encoder.tensors, encoder.devices


def decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild a value from its tree; tensors come back on the CPU, numpy arrays as numpy.

    Any tree that is not one ``encode`` makes raises WireError.
    """
    try:
        return _decode(tree, tensors)
    except WireError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise WireError(f"malformed value ({type(error).__name__})") from None


def _scalar(value: Any) -> Any:
    """A JSON scalar of a reply, once it is one the trusted side can compute with."""
    if isinstance(value, int) and not isinstance(value, bool) and value not in INTEGER_RANGE:
        raise WireError("an integer too large for 64 bits")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise WireError(f"a string longer than {MAX_TEXT:,} characters")
    return value


def _tensor(tensor: torch.Tensor) -> torch.Tensor:
    """A tensor of a reply, once its dtype and shape are ones the checks read."""
    if tensor.dtype not in READABLE_DTYPES:
        raise WireError(
            f"a tensor of dtype {tensor.dtype}, which the grader does not read: use float32 (or another "
            "standard dtype: float16, bfloat16, float64, an integer type or bool)"
        )
    if tensor.dim() > MAX_DIMS:
        raise WireError(f"a tensor of {tensor.dim()} dimensions, more than the {MAX_DIMS} the grader reads")
    return tensor


def _decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, list):
        return [_decode(item, tensors) for item in tree]
    if not isinstance(tree, dict):
        return _scalar(tree)
    tag = tree.get("__t")
    if tag in ("tensor", "ndarray"):
        try:
            tensor = _tensor(tensors[tree["key"]])
        except KeyError:
            raise WireError("a reply refers to a tensor it does not carry") from None
        return tensor.numpy() if tag == "ndarray" else tensor
    if tag == "float":
        return float(tree["repr"])
    if tag == "tuple":
        return tuple(_decode(item, tensors) for item in tree["items"])
    if tag == "dict":
        return {_scalar(k): _decode(v, tensors) for k, v in tree["items"].items()}
    if tag == "mapping":
        items = {_scalar(k): _decode(v, tensors) for k, v in tree["items"].items()}
        return RemoteMapping(_scalar(str(tree["type"])), items)
    if tag == "object":
        fields = {_scalar(k): _decode(v, tensors) for k, v in tree["fields"].items()}
        return RemoteObject(_scalar(str(tree["type"])), fields)
    if tag == "opaque":
        return Opaque(_scalar(str(tree["type"])), _scalar(str(tree["text"])))
    raise WireError(f"unknown value tag {tag!r}")


def pack(header: Mapping[str, Any], tensors: dict[str, torch.Tensor]) -> bytes:
    """One message: lengths, the JSON header, then the safetensors blob (empty if no tensors)."""
    head = json.dumps(header, allow_nan=True).encode()
    blob = save_tensors(tensors) if tensors else b""
    return HEADER.pack(len(head), len(blob)) + head + blob


def unpack(head: bytes, blob: bytes) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        header = json.loads(head)
        tensors = load_tensors(blob) if blob else {}
    except Exception as error:  # noqa: BLE001 - any malformed reply is a wire error
        raise WireError(f"malformed message: {error}") from None
    if not isinstance(header, dict):
        raise WireError("malformed message: header is not an object")
    return header, tensors


def write_message(fd: int, header: Mapping[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
    data = memoryview(pack(header, tensors or {}))
    while data:
        written = os.write(fd, data)
        data = data[written:]
