"""The staff solutions of A2S1 and A2S2 are right, and their notebooks run top to bottom headless."""

import ast
import math
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from handout.build import build_notebook, read_source
from handout.execute import cell_text_output, execute_until_error

ROOT = Path(__file__).resolve().parent.parent
KERNEL_ENV = {
    "A2_QUICK": "1",
    "OMP_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}


def source_namespace(name: str, keep) -> dict:
    """Execute the imports and the top-level statements of reference/<name>.py that ``keep`` accepts."""
    tree = ast.parse((ROOT / "reference" / f"{name}.py").read_text(encoding="utf-8"))
    tree.body = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom) or keep(node)]
    namespace: dict = {}
    exec(compile(tree, f"reference/{name}.py", "exec"), namespace)
    return namespace


def is_printing_call(node: ast.stmt) -> bool:
    """A statement ``check(...)`` or ``print(...)``: output for the reader, nothing defined."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) in ("check", "print")
    )


@pytest.fixture(scope="module")
def a2s1():
    """A2S1 top to bottom except the printing calls (it has no long-running code)."""
    return source_namespace("A2S1", lambda node: not is_printing_call(node))


@pytest.fixture(scope="module")
def a2s2():
    """The function definitions of A2S2 (§2.1), without the test calls and the §2.2 training."""
    return source_namespace("A2S2", lambda node: isinstance(node, ast.FunctionDef))


def unscaled_attention(query, keys, values):
    """The grader's measure (contract.md): scaled_dot_product_attention with scale=1."""
    return F.scaled_dot_product_attention(
        query.reshape(-1, 3).unsqueeze(0), keys[None], values[None], scale=1
    )[0]


def test_a2s1_gives_the_keys_and_values_of_the_contract(a2s1):
    key = torch.tensor([[0.47, 0.65, 0.60], [0.64, 0.50, -0.59], [-0.03, -0.48, -0.88], [0.43, -0.83, 0.35]])
    value = torch.tensor(
        [[-0.07, -0.88, 0.47], [0.37, -0.93, -0.07], [-0.25, -0.75, 0.61], [0.94, 0.20, 0.28]]
    )
    assert torch.allclose(a2s1["key"], key, atol=1e-6)
    assert torch.allclose(a2s1["value"], value, atol=1e-6)


def test_a2s1_staff_answers_are_within_the_error_for_full_credit(a2s1):
    key, value = a2s1["key"], a2s1["value"]
    query132 = a2s1["query132"]
    cases = {
        "query121": (a2s1["query121"], key, value[0]),
        "query122": (a2s1["query122"], key, value),
        "query131": (a2s1["query131"], key, value.mean(dim=0)),
        "query132": (query132, key, value[:2].mean(dim=0)),
        "key141": (query132, a2s1["key141"], value[:3].mean(dim=0)),
        "key142": (query132, a2s1["key142"], value[2]),
    }
    for name, (query, keys, target) in cases.items():
        error = (unscaled_attention(query, keys, value) - target).abs().max().item()
        assert error <= 0.05, f"{name}: error {error}"
        notebook_error = (a2s1["attention"](query, keys, value) - target).abs().max().item()
        assert notebook_error == pytest.approx(error, abs=1e-6), "the check cell must measure like the grader"
    for name in ("key141", "key142"):
        changed = (a2s1[name] != key).any(dim=1).tolist()
        assert changed == [False, False, True, False], f"{name} must replace row 2 of key only"
    assert a2s1["key142"][2].norm().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("n_heads", [1, 2, 3, 4])
@pytest.mark.parametrize("causal", [False, True])
def test_a2s2_staff_attention_matches_an_independent_computation(a2s2, n_heads, causal):
    torch.manual_seed(n_heads)
    Q, K, V = (torch.randn(2, 7, 12) for _ in range(3))

    def heads(x):
        return x.reshape(2, 7, n_heads, -1).transpose(1, 2)

    want = F.scaled_dot_product_attention(heads(Q), heads(K), heads(V), is_causal=causal)
    want = want.transpose(1, 2).reshape(2, 7, 12)
    got = a2s2["self_attention"](Q, K, V, n_heads=n_heads, causal=causal)
    assert (got - want).abs().max().item() <= 1e-5
    wrapper = a2s2["MHA_wrapper"](Q, K, V, n_heads=n_heads, causal=causal)
    assert (wrapper - want).abs().max().item() <= 1e-5


def test_a2s2_staff_helpers_follow_the_contract(a2s2):
    x = torch.randn(2, 5, 6)
    split = a2s2["split_heads"](x, 3)
    assert split.shape == (2, 3, 5, 2)
    assert torch.equal(split[:, 1], x[:, :, 2:4])
    assert torch.equal(a2s2["merge_heads"](split), x)
    mask = a2s2["make_causal_mask"](4)
    assert mask.shape == (4, 4) and torch.equal(mask.bool(), torch.ones(4, 4).tril().bool())
    masked = a2s2["apply_causal_mask"](mask, torch.zeros(2, 3, 4, 4))
    assert torch.isinf(masked).sum().item() == 2 * 3 * 6 and masked[0, 0, 3].eq(0).all()
    assert a2s2["attn_scaled"](torch.full((1,), 6.0), 48, 3).item() == pytest.approx(1.5)
    assert a2s2["attn_softmax"](torch.zeros(2, 4)).sum(dim=-1).tolist() == [1.0, 1.0]
    projections = a2s2["init_qkv_proj"](12)
    assert len(projections) == 3 and all(p.in_features == p.out_features == 12 for p in projections)
    assert all(p.bias is not None for p in projections)


@pytest.fixture(scope="module")
def reference_notebooks(tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    for name in ("A2S1", "A2S2"):
        text, relative = read_source(ROOT, name)
        build_notebook(name, text, relative, out / "student", out / "dist")
    return out / "dist" / "reference"


def run_reference(reference_notebooks, name, tmp_path):
    import nbformat

    notebook = nbformat.read(reference_notebooks / f"{name}.ipynb", as_version=4)
    failure = execute_until_error(notebook, cwd=tmp_path, env=KERNEL_ENV)
    assert failure is None, f"{name} cell {failure.index} raised {failure.ename}: {failure.evalue}"
    return notebook, "".join(cell_text_output(cell) for cell in notebook.cells if cell.cell_type == "code")


def test_a2s1_reference_notebook_runs_and_every_check_passes(reference_notebooks, tmp_path):
    _, printed = run_reference(reference_notebooks, "A2S1", tmp_path)
    assert printed.count("(within the 0.05") == 6 and "NOT within" not in printed
    assert "length of the new k2: 1.0000" in printed


def test_a2s2_reference_notebook_runs_quick_and_reports_perplexity(reference_notebooks, tmp_path):
    notebook, printed = run_reference(reference_notebooks, "A2S2", tmp_path)
    assert printed.count("(outputs match)") == 5 and "DO NOT match" not in printed
    assert (tmp_path / "data" / "1b_benchmark.train.tokens").is_file()
    vocabulary = int(re.search(r"vocabulary of (\d+) tokens", printed).group(1))
    perplexity = float(re.search(r"validation perplexity: ([\d.]+)", printed).group(1))
    assert math.isfinite(perplexity) and perplexity < vocabulary / 2
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the loss plot is missing"
