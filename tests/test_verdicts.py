"""The pieces verdicts rest on: fail-closed comparisons, reply schema, static review, operator recorder,
the gradient check. (End to end, on attack submissions: tests/test_hostile_verdicts.py.)"""

import ast
import math
from typing import get_args, get_type_hints

import pytest
import torch
import torch.nn.functional as F

from grader.comparison import NotANumber, as_number, max_abs_error, tensor_problem, within
from grader.integrity import constructs, new_canary, verify_recording
from grader.replies import load_problem, reply_problem
from grader.sandbox import wire
from grader.sandbox.op_recorder import OpRecorder
from grader.sandbox.protocol import Error
from grader.verdicts import FINITE_DIFFERENCE_STEP, directional_derivative, gradient_problem


def test_nan_and_infinite_errors_are_never_within_tolerance():
    assert not within(math.nan, 1.0)
    assert not within(math.inf, 1.0)
    assert within(0.5, 1.0)
    want = torch.zeros(3)
    assert max_abs_error(torch.tensor([0.0, math.nan, 0.0]), want) == math.inf
    assert max_abs_error(torch.tensor([-math.inf]), torch.tensor([-math.inf])) == 0.0


def test_tensor_problem_fails_closed_on_nan_infinity_and_integer_results():
    want = torch.tensor([1.0, 2.0])
    assert "NaN" in tensor_problem(torch.tensor([1.0, math.nan]), want, 1e-5)
    assert "infinite on one side" in tensor_problem(torch.tensor([1.0, math.inf]), want, 1e-5)
    assert "floating-point" in tensor_problem(torch.tensor([1, 2]), want, 1e-5)
    assert tensor_problem(torch.tensor([1.0, 2.0]), want, 1e-5) is None


def test_as_number_accepts_unambiguous_forms_with_a_note_and_refuses_the_rest():
    assert as_number(0.5, "evaluate") == (0.5, None)
    value, note = as_number(torch.tensor(0.25), "evaluate")
    assert value == 0.25 and "one-element" in note
    assert as_number(torch.tensor([0.75]).numpy(), "evaluate")[0] == 0.75
    for bad in (math.nan, math.inf, True, "0.5", torch.tensor([0.1, 0.2]), None):
        with pytest.raises(NotANumber):
            as_number(bad, "evaluate")


def _failed(error: dict) -> dict:
    return {"id": "r1", "ok": False, "error": error}


def test_replies_that_do_not_meet_the_schema_are_named():
    assert reply_problem({"id": "r1", "ok": True, "value": 1, "devices": ["cpu"]}) is None
    raised = {"kind": "raised", "name": "f", "type": "ValueError", "message": "x"}
    assert reply_problem(_failed(raised)) is None
    assert reply_problem(_failed({**raised, "lineno": 3, "function": "f"})) is None
    assert reply_problem(_failed({"message": "forged"})) == "an error of no known kind"
    assert reply_problem(_failed({"kind": "raised", "name": "f", "message": "no type"})) == "no `error.type`"
    assert reply_problem(_failed({**raised, "lineno": -1})) == "a `error.lineno` out of range"
    assert reply_problem(_failed({**raised, "message": "x" * 5000})) is not None
    assert reply_problem(_failed({**raised, "extra": 1})) == "an unknown field in `error`"
    assert reply_problem({"id": "r1", "ok": True, "value": 1, "devices": [7]}) is not None
    assert reply_problem({"id": "r1", "ok": 1, "value": 1, "devices": []}) == "a reply of no known ok"
    assert reply_problem({"ok": "yes"}) is not None
    assert reply_problem([1, 2]) == "the reply is not an object"
    failure = {"kind": "raised", "name": "", "type": "E", "message": "m", "binds": ["x"], "lineno": 3}
    assert load_problem({"id": "r1", "ok": True, "failures": [failure]}) is None
    assert reply_problem(_failed({"kind": "missing", "name": "x", "cause": failure})) is None
    assert load_problem({"id": "r1", "ok": True, "failures": [{"binds": "x"}]}) is not None
    assert load_problem({"id": "r1", "ok": True, "failures": [], "value": None}) is not None


ERROR_KINDS = [
    (kind, error_type)
    for error_type in get_args(Error)
    for kind in get_args(get_type_hints(error_type)["kind"])
]


@pytest.mark.parametrize(("kind", "error_type"), ERROR_KINDS, ids=[kind for kind, _ in ERROR_KINDS])
def test_every_error_kind_of_the_protocol_is_one_the_validator_accepts(kind, error_type):
    """The validator is derived from grader/sandbox/protocol.py: an error made from its type's fields
    passes, and the same error without one of its required fields does not."""
    samples = {"kind": kind, "name": "f", "type": "E", "message": "m", "cause": None}
    error = {key: samples[key] for key in error_type.__required_keys__}
    assert reply_problem(_failed(error)) is None
    for key in error_type.__required_keys__:
        assert reply_problem(_failed({k: v for k, v in error.items() if k != key})) is not None


def test_a_malformed_value_tree_is_a_wire_error():
    for tree in (
        {"__t": "tuple"},
        {"__t": "dict", "items": [1]},
        {"__t": "tensor", "key": "t9"},
        {"__t": "?"},
    ):
        with pytest.raises(wire.WireError):
            wire.decode(tree, {})


def _forging(source: str) -> list[str]:
    return [c.what for c in constructs(ast.parse(source).body) if c.forging]


@pytest.mark.parametrize(
    "source",
    [
        "f = eval('F.sdpa')",
        "import importlib\nm = importlib.import_module('torch.nn.' + 'functional')",
        "from importlib import import_module",
        "import importlib.util\nspec = importlib.util.spec_from_file_location('x', 'x.py')",
        "import pkgutil\nf = pkgutil.resolve_name('torch:nn')",
        "import operator\nf = operator.attrgetter('sys.modules')",
        "def f(g): return g.__code__",
        "import torch\ntorch.sys.modules['grader'] = None",
        "import gc\nobjects = gc.get_objects()",
        "import sys\nframe = sys._getframe(1)",
        "import inspect\nframe = inspect.currentframe()",
        "import ctypes",
        "import grader.sandbox.child",
        "from sys import modules",
        "import torch.nn.functional as F\nf = F.__getattribute__('x')",
        "import torch\nmodules = getattr(getattr(torch, 'sys'), 'modules')",
        "import torch\nsys_ = torch.sys\nloaded = sys_.modules",
        "import sys as system\nloaded = system.modules",
        "def f(g):\n    return getattr(g, '__globals__')",
        "def f(g):\n    match g:\n        case object(__globals__=found):\n            return found",
        "import torch\nt = torch\nsetattr(t, 'allclose', lambda *a: True)",
    ],
)
def test_constructs_that_reach_into_the_grading_process_can_forge(source):
    assert _forging(source)


@pytest.mark.parametrize(
    "source",
    [
        "import gc\ngc.collect()\nmodel.eval()\nx = getattr(config, name)",
        "import torch\nf = torch.ops.aten.add",
        "import threading, subprocess, inspect",
        "names = globals()\nconfig = dict(vars(args))\nfields = self.__dict__",
        "import importlib\nimport tinygpt\nimportlib.reload(tinygpt)",
        "from importlib import reload\nimport tinygpt\nreload(tinygpt)",
        "import importlib.util\nhas_tqdm = importlib.util.find_spec('tqdm') is not None",
        "import sys\nIN_COLAB = 'google.colab' in sys.modules",
        "import torch\nsetattr(torch.backends.cudnn, 'benchmark', True)",
        "from operator import attrgetter\nkey = attrgetter('label')",
        "import builtins",
    ],
)
def test_honest_habits_are_at_most_notes(source):
    """Colab users edit tinygpt and reload it; print helpers read globals(); configs use vars(args)."""
    assert not _forging(source)


def _recorded(function) -> tuple[list[str], bool]:
    recorder, canary = OpRecorder(), new_canary()
    with recorder:
        recorder.run_canary(canary[0])
        function()
        recorder.run_canary(canary[1])
    recording = verify_recording(recorder.report(), canary)
    return list(recording.forbidden), recording.tampered


def test_the_recorder_sees_attention_by_every_route_and_nothing_in_honest_code():
    x = torch.randn(1, 2, 4, 8)
    routes = [
        lambda: F.scaled_dot_product_attention(x, x, x),
        lambda: torch.ops.aten._scaled_dot_product_attention_math(x, x, x),
        lambda: torch.nn.MultiheadAttention(8, 2, batch_first=True)(x[0], x[0], x[0]),
    ]
    for route in routes:
        forbidden, tampered = _recorded(route)
        assert forbidden and not tampered
    assert _recorded(lambda: torch.softmax(x @ x.transpose(-2, -1), -1) @ x) == ([], False)


def test_a_record_without_the_canary_counts_as_tampered():
    canary = new_canary()
    assert verify_recording({"forbidden": [], "canary": [0.5, 0.25]}, canary).tampered
    assert verify_recording({"forbidden": []}, canary).tampered
    assert verify_recording("forged", canary).tampered
    assert not verify_recording({"forbidden": [], "canary": list(canary)}, canary).tampered


def test_a_gradient_is_checked_against_finite_differences_of_the_outputs():
    x, direction, cotangent = torch.randn(5), torch.randn(5), torch.randn(5)

    def f(t: torch.Tensor) -> torch.Tensor:
        return torch.sin(t) * 3

    finite = directional_derivative(
        f(x + FINITE_DIFFERENCE_STEP * direction), f(x - FINITE_DIFFERENCE_STEP * direction), cotangent
    )
    true_grad = cotangent * 3 * torch.cos(x)
    assert gradient_problem({"grads": [true_grad]}, (direction,), finite) is None
    assert gradient_problem({"grads": [torch.zeros(5)]}, (direction,), finite) == "none"
    assert gradient_problem({"grads": None}, (direction,), finite) == "none"
    assert gradient_problem({"grads": [true_grad * 2]}, (direction,), finite) == "inconsistent"
    assert gradient_problem({"grads": ["x"]}, (direction,), finite) == "malformed"
