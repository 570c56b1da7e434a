"""How every check reads and compares the student's values: one module, and it fails closed.

The checks of all three sections go through it: ``as_number`` and ``as_matrix`` read a reply as a
number or a matrix (or say why they cannot), ``tensor_problem`` compares a tensor with the expected
one, ``within`` compares an error with a tolerance, and ``describe`` names a value in a message.

A comparison written as ``error > tolerance`` passes when the error is NaN (every comparison with NaN
is false), so a student whose answer overflows to NaN would be marked right. Every check here asks
the opposite question, "is it within tolerance?", which NaN never is, and says in the student's terms
what was wrong: not a tensor, the wrong shape or dtype, NaN or infinite entries, or the size and
place of the largest difference. Expected values are never printed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from grader.sandbox.wire import Opaque


def kind_of(value: Any) -> str:
    """The type of a value as the student would name it (types the wire could not carry included)."""
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def within(error: float, tolerance: float) -> bool:
    """Whether ``error`` is a finite number no larger than ``tolerance`` (NaN and inf never are)."""
    return math.isfinite(error) and error <= tolerance


def max_abs_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """The largest absolute difference, in float64; inf when any entry of ``got`` is NaN or infinite
    where ``want`` is not the same value."""
    got, want = got.double(), want.double()
    same = got == want
    difference = torch.where(same, torch.zeros_like(got), (got - want).abs())
    if bool(torch.isnan(difference).any()):
        return math.inf
    return float(difference.max()) if difference.numel() else 0.0


def tensor_problem(
    got: Any, want: torch.Tensor, tolerance: float, dtype: torch.dtype | None = None
) -> str | None:
    """What is wrong with ``got`` as an approximation of ``want``, or None when it is right.

    ``dtype``: the dtype the result must have (the inputs' dtype). A floating ``want`` needs a floating
    result. Entries equal to ``want`` agree (−inf where −inf is expected); any other NaN or infinity
    is a difference.
    """
    shape = tuple(want.shape)
    if not isinstance(got, torch.Tensor):
        return f"returned a {kind_of(got)}; expected a tensor of shape {shape}"
    if tuple(got.shape) != shape:
        return f"returned shape {tuple(got.shape)}; expected {shape}"
    if dtype is not None and got.dtype != dtype:
        return f"returned {got.dtype} for {dtype} inputs; return the inputs' dtype"
    if want.is_floating_point() and not got.is_floating_point():
        return f"returned a {got.dtype} tensor; expected floating-point values"
    if got.is_complex():
        return "returned complex numbers; expected real ones"
    got, want = got.double(), want.double()
    agree = (got == want) | ((got - want).abs() <= tolerance)
    if bool(agree.all()):
        return None
    wrong = int((~agree).sum())
    nan = ~agree & torch.isnan(got)
    if bool(nan.any()):
        return f"returned NaN at {int(nan.sum())} of {got.numel()} entries"
    one_sided = ~agree & (torch.isinf(got) != torch.isinf(want))
    if bool(one_sided.any()):
        where = tuple(int(i) for i in torch.nonzero(one_sided)[0])
        return (
            f"differs from the expected result at {wrong} of {got.numel()} entries, "
            f"{int(one_sided.sum())} of them infinite on one side only (the first at index {where})"
        )
    diff = torch.where(agree, torch.zeros_like(got), (got - want).abs())
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (
        f"differs from the expected result at {wrong} of {got.numel()} entries, by up to "
        f"{float(diff.max()):.3g} (at index {where}; allowed: {tolerance:g})"
    )


class NotANumber(ValueError):
    """A value that should be one number is not; the message says what it is instead."""


def as_number(value: Any, what: str) -> tuple[float, str | None]:
    """``value`` as a finite float, and a note when it was given in another unambiguous form.

    A Python int or float is taken as it is; a one-element tensor or numpy array and a numpy scalar
    are accepted with a note (they are unambiguous, but the notebook asks for a number). Booleans,
    NaN, infinities and anything else raise NotANumber.
    """
    note = None
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value) if value.dtype != object else value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        if value.is_complex() or value.dtype == torch.bool:
            raise NotANumber(f"{what} returned a {value.dtype} tensor; expected a number")
        note = f"{what} returned a one-element tensor or array; return a Python number (e.g. with .item())."
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotANumber(f"{what} returned {describe(value)}; expected a number")
    if not math.isfinite(value):
        raise NotANumber(f"{what} returned {value}; expected a finite number")
    return float(value), note


def describe(value: Any) -> str:
    """A value as messages name it: a tensor by dtype and shape, a bool or text as written, anything
    else by its type (never its contents, which may be large or the expected answer)."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, bool | str):
        return repr(value)
    return f"a {kind_of(value)}"


class NotAMatrix(ValueError):
    """A value that should be a matrix of numbers is not; the message says what is wrong with it."""


def as_matrix(value: Any, name: str, rows: int, columns: int) -> torch.Tensor:
    """``value`` as a finite float64 (rows, columns) tensor, or NotAMatrix saying what is wrong.

    Tensors, numpy arrays, nested lists/tuples of numbers and any float dtype are accepted; when one
    row is asked for, a single vector may be given as (columns,) or (1, columns).
    """
    expected = f"({columns},) or (1, {columns})" if rows == 1 else f"({rows}, {columns})"
    if value is None:
        raise NotAMatrix(f"{name} is None: it has not been answered yet (not implemented yet).")
    try:
        if isinstance(value, torch.Tensor):
            matrix = value.detach().cpu().double()
        else:
            matrix = torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError):
        raise NotAMatrix(
            f"{name} is a {kind_of(value)}, not numbers the grader can read; "
            f"give a tensor, numpy array or list of numbers of shape {expected}."
        ) from None
    if matrix.is_complex():
        raise NotAMatrix(f"{name} holds complex numbers; give real numbers of shape {expected}.")
    shape = tuple(matrix.shape)
    if rows == 1 and shape == (columns,):
        matrix = matrix.unsqueeze(0)
    if tuple(matrix.shape) != (rows, columns):
        raise NotAMatrix(f"{name} has shape {shape}; expected {expected}.")
    if not torch.isfinite(matrix).all():
        raise NotAMatrix(f"{name} contains NaN or infinity; every entry must be a finite number.")
    return matrix
