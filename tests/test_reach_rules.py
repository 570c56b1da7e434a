"""The rules about how answers are computed, read over what each answer reaches (grader/reach_rules.py).

Honest ways of writing §2.1 must pass §2.1's allowlist untouched; every route to a ready-made
attention, or to code the reading cannot follow, must be refused whatever it is called; and code no
answer reaches is never judged.
"""

from __future__ import annotations

import textwrap

import pytest
from corpus_grading import REPO

from a2.sections.s2.allowlist import FROM_SCRATCH
from grader.intake.normalise import normalise_file
from grader.intake.slicer import slice_source
from grader.integrity import constructs
from grader.reach_rules import allowlist_violations
from grader.table import load_table

S2_ANSWERS = load_table().sections[2].answers
SIGNATURE = "def self_attention(Q, K, V, n_heads=1, causal=True):\n"


def _refused(source: str, answer: str = "self_attention") -> list[str]:
    sliced = slice_source(textwrap.dedent(source), S2_ANSWERS)
    return [violation.what for violation in allowlist_violations(sliced.reached_by([answer]), FROM_SCRATCH)]


HONEST = {
    "matmul and masked_fill": """
        import math
        import torch
        import torch.nn.functional as F
        def self_attention(Q, K, V, n_heads=1, causal=True):
            B, T, C = Q.shape
            q, k, v = (x.view(B, T, n_heads, C // n_heads).transpose(1, 2) for x in (Q, K, V))
            A = q @ k.transpose(-2, -1) / math.sqrt(C / n_heads)
            if causal:
                mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=A.device))
                A = A.masked_fill(~mask, float("-inf"))
            return (F.softmax(A, dim=-1) @ v).transpose(1, 2).contiguous().view(B, T, C)
        """,
    "einsum, einops and a hand-written softmax": """
        import numpy as np
        import torch
        from einops import rearrange
        def attn_softmax(A):
            A = A - A.amax(dim=-1, keepdim=True)
            e = torch.exp(A)
            return e / e.sum(dim=-1, keepdim=True)
        def self_attention(Q, K, V, n_heads=1, causal=True):
            q, k, v = (rearrange(x, "b t (h d) -> b h t d", h=n_heads) for x in (Q, K, V))
            A = torch.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(q.shape[-1])
            if causal:
                A = A + torch.triu(torch.full_like(A, torch.finfo(A.dtype).min), diagonal=1)
            return rearrange(attn_softmax(A) @ v, "b h t d -> b t (h d)")
        """,
    "loops over heads, float64, lists and an assert": """
        import torch
        DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        def make_causal_mask(n_tok):
            return torch.tril(torch.ones(n_tok, n_tok, device=DEVICE))
        def pairwise_similarities(Q, K):
            assert Q.shape == K.shape, f"shapes differ: {Q.shape} {K.shape}"
            return torch.matmul(Q, torch.transpose(K, -2, -1))
        def self_attention(Q, K, V, n_heads=1, causal=True):
            heads = []
            d = Q.size(-1) // n_heads
            for h in range(n_heads):
                sl = slice(h * d, (h + 1) * d)
                A = pairwise_similarities(Q[..., sl].double(), K[..., sl].double()) / d ** 0.5
                if causal:
                    A = torch.where(make_causal_mask(A.shape[-1]).to(A.device) == 1, A, -1e9)
                heads.append(torch.softmax(A, dim=-1) @ V[..., sl].double())
            return torch.cat(heads, dim=-1).to(Q.dtype)
        """,
    "a module of the student's own and typing": """
        from typing import Optional
        import torch
        from torch import nn
        class Scaler(nn.Module):
            def __init__(self, n_embd: int, n_heads: int) -> None:
                super().__init__()
                self.scale = (n_embd / n_heads) ** -0.5
            def forward(self, A: torch.Tensor) -> torch.Tensor:
                return A * self.scale
        def self_attention(
            Q: torch.Tensor, K, V, n_heads: int = 1, causal: bool = True, mask: Optional[torch.Tensor] = None
        ):
            A = Scaler(Q.shape[-1], n_heads)(torch.bmm(Q, K.mT))
            return torch.nn.functional.softmax(A, dim=-1).bmm(V)
        """,
    "a debugging decorator, timing, warnings and display": """
        import time
        import warnings
        import torch
        from IPython.display import display
        VERBOSE = False
        def shapes(fn):
            def wrapper(*args, **kwargs):
                started = time.perf_counter()
                out = fn(*args, **kwargs)
                if VERBOSE:
                    print(fn.__name__, tuple(out.shape), time.perf_counter() - started)
                    display(out[0])
                return out
            return wrapper
        @shapes
        def self_attention(Q, K, V, n_heads=1, causal=True):
            if n_heads > Q.shape[-1]:
                warnings.warn("more heads than features")
            return torch.softmax(Q @ K.mT, dim=-1) @ V
        """,
}


@pytest.mark.parametrize("source", HONEST.values(), ids=HONEST.keys())
def test_honest_ways_of_writing_attention_keep_to_the_allowlist(source):
    assert _refused(source) == []


def test_code_no_answer_reaches_is_never_judged():
    source = """
        import inspect, subprocess, asyncio
        import torch
        import torch.nn.functional as F
        def show_all():
            for name, value in globals().items():
                print(name, vars(value) if hasattr(value, "__dict__") else value)
        def self_attention(Q, K, V, n_heads=1, causal=True):
            return torch.softmax(Q @ K.transpose(-2, -1), -1) @ V
        def my_experiment(Q, K, V, n_heads=1, causal=True):
            return F.scaled_dot_product_attention(Q, K, V, is_causal=causal)
        experiment_attn_fn = my_experiment
        subprocess.run(["nvidia-smi"])
        """
    assert _refused(source) == []


HOSTILE = {
    "sdpa by name": (
        "import torch.nn.functional as F\n"
        + SIGNATURE
        + "    return F.scaled_dot_product_attention(Q, K, V)",
        "torch.nn.functional.scaled_dot_product_attention",
    ),
    "sdpa imported under another name in a helper": (
        "from torch.nn.functional import scaled_dot_product_attention as fused\ndef helper(Q, K, V):\n"
        "    return fused(Q, K, V)\n" + SIGNATURE + "    return helper(Q, K, V)",
        "torch.nn.functional.scaled_dot_product_attention",
    ),
    "a module bound to a global": (
        "import torch\nfunctional = torch.nn.functional\n"
        + SIGNATURE
        + "    return functional.multi_head_attention_forward(Q)",
        "torch.nn.functional.multi_head_attention_forward",
    ),
    "getattr with a computed name": (
        "import torch\n"
        + SIGNATURE
        + "    return getattr(torch.nn.functional, 'scaled_dot' + '_product_attention')(Q, K, V)",
        "getattr with a computed name",
    ),
    "MultiheadAttention through getattr with a constant": (
        "import torch\n"
        + SIGNATURE
        + "    return getattr(torch.nn, 'MultiheadAttention')(Q.shape[-1], n_heads)(Q, K, V)[0]",
        "torch.nn.MultiheadAttention",
    ),
    "torch._C": (
        "import torch\n" + SIGNATURE + "    return torch._C._nn.scaled_dot_product_attention(Q, K, V)",
        "torch._C",
    ),
    "torch.ops": (
        "import torch\n"
        + SIGNATURE
        + "    return torch.ops.aten._scaled_dot_product_attention_math(Q, K, V)[0]",
        "torch.ops",
    ),
    "flex_attention": (
        "from torch.nn.attention.flex_attention import flex_attention\n"
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return flex_attention(Q, K, V)",
        "torch.nn.attention.flex_attention.flex_attention",
    ),
    "another library's attention": (
        "from transformers.models.bert.modeling_bert import eager_attention_forward\n"
        + SIGNATURE
        + "    return eager_attention_forward(None, Q, K, V, None)[0]",
        "transformers.models.bert.modeling_bert.eager_attention_forward",
    ),
    "asyncio.to_thread": (
        "import asyncio\nimport torch.nn.functional as F\n"
        + SIGNATURE
        + "    return asyncio.run(asyncio.to_thread(F.softmax, Q, -1))",
        "asyncio",
    ),
    "a thread pool": (
        "from concurrent.futures import ThreadPoolExecutor\n"
        + SIGNATURE
        + "    return ThreadPoolExecutor(1).submit(lambda: Q).result()",
        "concurrent.futures.ThreadPoolExecutor",
    ),
    "pkgutil.resolve_name": (
        "import pkgutil\n"
        + SIGNATURE
        + "    return pkgutil.resolve_name('torch.nn.functional:scaled_dot_product_attention')(Q, K, V)",
        "pkgutil",
    ),
    "operator.attrgetter": (
        "import operator, torch\n"
        + SIGNATURE
        + "    return operator.attrgetter('nn.functional.scaled_dot_product_attention')(torch)(Q, K, V)",
        "operator",
    ),
    "importlib.import_module": (
        "import importlib\n"
        + SIGNATURE
        + "    return importlib.import_module('torch.nn.functional').scaled_dot_product_attention(Q, K, V)",
        "importlib",
    ),
    "__import__": (
        SIGNATURE + "    return __import__('torch').nn.functional.scaled_dot_product_attention(Q, K, V)",
        "__import__",
    ),
    "eval": (
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return eval('F.sdpa')(Q, K, V)",
        "eval",
    ),
    "a default argument captured at definition": (
        "import torch.nn.functional as F\n"
        "def self_attention(Q, K, V, n_heads=1, causal=True, _f=vars(F)['scaled_dot_product_attention']):\n"
        "    return _f(Q, K, V)",
        "vars",
    ),
    "a code object": (
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return Q\nself_attention.__code__ = None",
        "self_attention.__code__",
    ),
    "a class made with type()": (
        "import torch\n" + SIGNATURE + "    return type('T', (torch.Tensor,), {})(Q)",
        "type",
    ),
    "a Tensor subclass with a hook": (
        "import torch\nclass Sneaky(torch.Tensor):\n    def __torch_function__(self, *a):\n        return 0\n"
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return Sneaky(Q)",
        "a class derived from torch.Tensor",
    ),
    "monkeypatching torch": (
        "import torch\nimport torch.nn.functional as F\ntorch.matmul = lambda a, b: F.softmax(a, -1)\n"
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return torch.matmul(Q, K)",
        "assigning torch.matmul",
    ),
    "a tensor method that runs a callable": (
        "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return Q.apply_(lambda x: x)",
        "Q.apply_",
    ),
    "a star import": (
        "from torch.nn.functional import *\n"
        + SIGNATURE
        + "    return scaled_dot_product_attention(Q, K, V)",
        "everything from torch.nn.functional",
    ),
    "async code": (
        "async def self_attention(Q, K, V, n_heads=1, causal=True):\n    return Q",
        "async code",
    ),
}


@pytest.mark.parametrize(("source", "what"), HOSTILE.values(), ids=HOSTILE.keys())
def test_every_route_outside_the_allowlist_is_refused_whatever_it_is_called(source, what):
    refused = _refused(source)
    assert any(found == what or found.startswith(what) for found in refused), refused


def test_a_helper_is_judged_on_its_own_reach():
    source = """
        import torch.nn.functional as F
        def attn_softmax(A):
            return F.softmax(A, dim=-1)
        def merge_heads(y):
            return F.scaled_dot_product_attention(y, y, y)
        def self_attention(Q, K, V, n_heads=1, causal=True):
            return attn_softmax(Q @ K.transpose(-2, -1)) @ V
        """
    assert _refused(source, "attn_softmax") == [] and _refused(source, "self_attention") == []
    assert _refused(source, "merge_heads") == ["torch.nn.functional.scaled_dot_product_attention"]


def test_the_forging_constructs_are_told_apart_from_notes():
    found = {
        c.what: c.forging
        for c in constructs(
            [
                *__import__("ast")
                .parse(
                    textwrap.dedent("""
        import sys, gc, inspect, threading, ctypes
        import torch
        torch.sys.modules["x"] = None
        frame = sys._getframe(1)
        objects = gc.get_objects()
        names = globals()
        fields = vars(args)
        code = compile("1", "x", "eval")
        """)
                )
                .body
            ]
        )
    }
    assert found["uses torch.sys.modules"] and found["uses sys._getframe"] and found["uses gc.get_objects"]
    assert found["imports ctypes"] and found["calls compile()"]
    assert not found["calls globals()"] and not found["calls vars()"]
    assert not found["imports inspect"] and not found["imports threading"]


def test_no_reference_notebook_breaks_a_rule():
    table = load_table()
    for section in table.sections.values():
        normalised = normalise_file(REPO / "reference" / f"{section.file}.py")
        sliced = slice_source(normalised.text, section.answers, normalised.filename)
        for answer in section.answers:
            reach = sliced.reached_by([answer])
            assert not [c for c in constructs(reach) if c.forging], answer
            if section.allowlist:
                assert allowlist_violations(reach, FROM_SCRATCH) == [], answer
