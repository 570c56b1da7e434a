"""Every hidden §2.1 case stays inside what the notebook's docstrings promise about shapes.

A student may rely on the docstring (`assert Q.shape == K.shape` where it says both are
`(..., n_tok, d)`), so a hidden input outside that promise would cost an honest point. This reads the
shape patterns of each graded function's docstring in reference/A2S2.py, such as
`(..., n_tok, d) x (..., n_tok, d) -> (..., n_tok, n_tok)` or `Q, K, V: (B, n_tok, n_embd)`, and
checks the cases of a2/sections/s2/hidden_cases.py against them: a name stands for one size in all
the arguments of a call, `...` for the same leading sizes, and `a // b` must divide evenly.
"""

from __future__ import annotations

import ast
import re

import pytest
from corpus_grading import REPO

from a2.sections.s2 import hidden_cases as hidden

PATTERN = re.compile(r"\(([^()]*,[^()]*)\)")
NAMED = re.compile(r"((?:\w+, )*\w+): \(([^()]*)\)")
DIVIDES = re.compile(r"(\w+) // (\w+)")


def _docstring(function: str) -> str:
    tree = ast.parse((REPO / "reference" / "A2S2.py").read_text())
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    return ast.get_docstring(found[0]) or ""


def _promises(docstring: str, arguments: list[str]) -> dict[str, list[str]]:
    """Each tensor argument's promised shape, as a list of dimension names."""
    for named in NAMED.finditer(docstring):
        names = [name.strip() for name in named.group(1).split(",")]
        if set(names) <= set(arguments):
            return {name: _dims(named.group(2)) for name in names}
    inputs = docstring.split("->")[0]
    return dict(zip(arguments, (_dims(found) for found in PATTERN.findall(inputs)), strict=False))


def _dims(pattern: str) -> list[str]:
    return [part.strip() for part in pattern.split(",")]


def _keeps(docstring: str, shapes: dict[str, tuple[int, ...]], ints: dict[str, int]) -> bool:
    """Whether tensors of `shapes` (and the integer arguments `ints`) keep the docstring's promise."""
    sizes: dict[str, object] = dict(ints)
    for name, dims in _promises(docstring, list(shapes)).items():
        shape = shapes[name]
        if dims[0] == "...":
            cut = len(shape) - len(dims) + 1
            if cut < 0 or sizes.setdefault("...", shape[:cut]) != shape[:cut]:
                return False
            shape, dims = shape[cut:], dims[1:]
        if len(shape) != len(dims):
            return False
        for dim, size in zip(dims, shape, strict=True):
            if sizes.setdefault(dim, size) != size:
                return False
    return all(_divides(sizes.get(a), sizes.get(b)) for a, b in DIVIDES.findall(docstring))


def _divides(a: object, b: object) -> bool:
    return isinstance(a, int) and isinstance(b, int) and b != 0 and a % b == 0


CASES = {
    "pairwise_similarities": [({"Q": q, "K": k}, {}) for q, k in hidden.PAIRWISE_SHAPES],
    "split_heads": [({"x": shape}, {"n_heads": heads}) for shape, heads in hidden.SPLIT_SETTINGS],
    "merge_heads": [({"y": shape}, {}) for shape in hidden.MERGE_SHAPES],
    "self_attention": [
        ({"Q": (b, t, e), "K": (b, t, e), "V": (b, t, e)}, {"n_heads": h})
        for b, t, e, h in hidden.SHAPE_CASES
    ],
}


@pytest.mark.parametrize("function", CASES)
def test_hidden_cases_keep_the_shapes_the_docstring_promises(function: str):
    docstring = _docstring(function)
    arguments = list(CASES[function][0][0])
    assert set(_promises(docstring, arguments)) == set(arguments), (function, docstring)
    for shapes, ints in CASES[function]:
        assert _keeps(docstring, shapes, ints), (function, shapes, ints, docstring)


def test_every_self_attention_case_splits_the_embedding_evenly_into_heads():
    """The handout splits n_embd into n_heads heads of n_embd / n_heads features."""
    assert all(n_embd % n_heads == 0 for _, _, n_embd, n_heads in hidden.SHAPE_CASES)


def test_the_reading_refuses_cases_outside_a_promise():
    pairwise = _docstring("pairwise_similarities")
    assert _keeps(pairwise, {"Q": (2, 3, 5, 4), "K": (2, 3, 5, 4)}, {})
    assert not _keeps(pairwise, {"Q": (2, 3, 5, 4), "K": (2, 3, 7, 4)}, {})
    assert not _keeps(pairwise, {"Q": (2, 3, 5, 4), "K": (2, 1, 5, 4)}, {})
    assert not _keeps(_docstring("split_heads"), {"x": (2, 5, 12)}, {"n_heads": 5})
    assert not _keeps(_docstring("self_attention"), {"Q": (1, 2, 3), "K": (1, 2, 3), "V": (1, 4, 3)}, {})
