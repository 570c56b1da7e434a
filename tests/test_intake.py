"""Intake: finding files, neutralising notebook syntax, and the slicing rule (grader/intake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.intake.discover import discover
from grader.intake.normalise import IntakeError, neutralise, normalise_file
from grader.intake.slicer import slice_source

EXPORTS = Path(__file__).parent / "submissions" / "exports"


def kept_lines(source: str, answers: list[str]) -> list[str]:
    return [unit.source for unit in slice_source(source, answers).units]


@pytest.mark.parametrize(
    ("files", "chosen"),
    [
        (["A2S1.py"], "A2S1.py"),
        (["A2S1 (1).py"], "A2S1 (1).py"),
        (["a2s1.py"], "a2s1.py"),
        (["copy_of_a2s1.py"], "copy_of_a2s1.py"),
        (["submission/hw2/A2S1.py"], "submission/hw2/A2S1.py"),
        (["A2S1.ipynb"], "A2S1.ipynb"),
        (["A2S1.ipynb", "A2S1.py"], "A2S1.py"),
        (["A2S1 (2).py", "A2S1.py"], "A2S1.py"),
        (["deep/A2S1.py", "A2S1 (1).py"], "deep/A2S1.py"),
        (["A2S11.py", "__MACOSX/A2S1.py", ".ipynb_checkpoints/A2S1.py"], None),
    ],
)
def test_discover_chooses_the_notebook_whatever_it_is_called(
    tmp_path: Path, files: list[str], chosen: str | None
):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    found = discover(tmp_path, ["A2S1", "A2S2"])
    assert found["A2S2"].path is None
    got = found["A2S1"].path
    assert (got.relative_to(tmp_path).as_posix() if got else None) == chosen


def test_discover_reports_the_candidates_it_passed_over(tmp_path: Path):
    for name in ("A2S2.py", "A2S2 (1).py"):
        (tmp_path / name).write_text("")
    found = discover(tmp_path, ["A2S2"])["A2S2"]
    assert found.path.name == "A2S2.py"
    assert [p.name for p in found.passed_over] == ["A2S2 (1).py"]


def test_neutralise_keeps_every_line_in_place():
    source = "\n".join(
        [
            "!pip install x \\",
            "    y",
            "%matplotlib inline",
            "if True:",
            "    !ls",
            "files = !ls",
            "get_ipython().system('pip install z')",
            "torch.tril?",
            "x = 1",
        ]
    )
    out = neutralise(source)
    assert out.split("\n") == [
        "pass",
        "",
        "pass",
        "if True:",
        "    pass",
        "files = None",
        "pass",
        "pass",
        "x = 1",
    ]


def test_non_python_cell_magic_is_commented_to_the_end_of_its_cell():
    source = "# %%\n%%bash\necho hi\nls -l\n# %%\nx = 1\n"
    out = neutralise(source)
    compile(out, "<test>", "exec")
    assert "x = 1" in out.split("\n")


@pytest.mark.parametrize("name", ["colab_download.py", "nbconvert_script.py", "jupytext_percent.py"])
def test_every_export_style_parses_after_normalisation(name: str):
    normalised = normalise_file(EXPORTS / name)
    sliced = slice_source(normalised.text, ["query121"], normalised.filename)
    kept = "\n".join(unit.source for unit in sliced.units)
    assert "query121 =" in kept
    assert "range(10**9)" not in kept and "main()" not in kept and "drive.mount" not in kept


def test_ipynb_is_read_from_its_code_cells_with_cell_line_provenance(tmp_path: Path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title"], "metadata": {}},
            {"cell_type": "code", "source": ["!pip install torch\n", "import torch"], "metadata": {}},
            {"cell_type": "code", "source": "x = (\n", "metadata": {}},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "A2S1.ipynb"
    path.write_text(json.dumps(notebook))
    normalised = normalise_file(path)
    with pytest.raises(SyntaxError) as error:
        compile(normalised.text, normalised.filename, "exec")
    assert normalised.where(error.value.lineno).startswith("A2S1.ipynb, cell 3, line")


def test_a_broken_notebook_file_is_reported(tmp_path: Path):
    path = tmp_path / "A2S1.ipynb"
    path.write_text("{not json")
    with pytest.raises(IntakeError, match="not a valid Jupyter notebook"):
        normalise_file(path)


def test_slice_keeps_seeding_and_in_place_updates_of_what_an_answer_uses():
    source = """
import torch
torch.manual_seed(447)
key = torch.randn(4, 3)
key /= key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
unrelated = torch.ones(3)
S = 1e6
query121 = S * key[0]
"""
    assert kept_lines(source, ["query121"]) == [
        "import torch",
        "torch.manual_seed(447)",
        "key = torch.randn(4, 3)",
        "key /= key.norm(dim=1, keepdim=True)",
        "key.round_(decimals=2)",
        "S = 1e6",
        "query121 = S * key[0]",
    ]


def test_slice_keeps_earlier_random_draws_so_the_values_stay_the_same():
    source = (
        "import torch\ntorch.manual_seed(0)\nnoise = torch.randn(5)\nkey = torch.randn(4, 3)\nq = key[0]\n"
    )
    assert "noise = torch.randn(5)" in kept_lines(source, ["q"])


def test_slice_drops_training_loops_calls_and_plots():
    source = """
import torch
def train_one_epoch(model, loader):
    model.train()
model = build()
for epoch in range(10):
    train_one_epoch(model, loader)
main()
plt.plot([1, 2])
"""
    kept = kept_lines(source, ["train_one_epoch"])
    assert kept == ["import torch", "def train_one_epoch(model, loader):\n    model.train()"]


def test_slice_follows_globals_that_a_needed_function_reads():
    source = """
import torch
DEVICE = torch.device("cpu")
SCALE = 2.0
model = load_huge_model()
def f(x, model):
    return x.to(DEVICE) * SCALE
"""
    kept = kept_lines(source, ["f"])
    assert 'DEVICE = torch.device("cpu")' in kept and "SCALE = 2.0" in kept
    assert "model = load_huge_model()" not in kept


def test_slice_keeps_decorators_and_the_last_definition_wins_at_load():
    source = "import functools\n@functools.cache\ndef f():\n    return 1\ndef f():\n    return 2\n"
    kept = kept_lines(source, ["f"])
    assert kept[1].startswith("@functools.cache")
    namespace: dict = {}
    for unit in kept:
        exec(unit, namespace)
    assert namespace["f"]() == 2


def test_legacy_m_key_answers_both_questions():
    source = """
import torch
key = torch.eye(4, 3)
m_key = key.clone()
m_key[2] = key[0] + key[1]
print(m_key)
m_key = key.clone()
m_key[2] = key[0] * 10
"""
    sliced = slice_source(source, ["key141", "key142"])
    assert sliced.renamed_legacy
    kept = [unit.source for unit in sliced.units]
    assert kept == [
        "import torch",
        "key = torch.eye(4, 3)",
        "key141 = key.clone()",
        "key141[2] = key[0] + key[1]",
        "key142 = key.clone()",
        "key142[2] = key[0] * 10",
    ]


def test_legacy_rule_does_not_apply_when_the_new_names_exist():
    source = "m_key = 1\nkey141 = 2\nm_key = 3\n"
    assert not slice_source(source, ["key141"]).renamed_legacy


def test_statements_sharing_a_line_are_kept_separately():
    kept = kept_lines("import torch; x = 1; y = 2\nz = y\n", ["z"])
    assert kept == ["import torch", "y = 2", "z = y"]
