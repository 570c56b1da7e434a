"""Intake: finding files, neutralising notebook syntax, and the slicing rule (grader/intake)."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from grader.grading_run import RunOptions, grade_submission
from grader.intake.discover import discover
from grader.intake.limits import IntakeClock, IntakeError
from grader.intake.normalise import neutralise, normalise_file
from grader.intake.sections import read_section
from grader.intake.slicer import slice_source
from grader.table import load_table

EXPORTS = Path(__file__).parent / "submissions" / "exports"
CORPUS = Path(__file__).parent / "submissions"
#: A2S1's legacy name: the 2024 notebook set `m_key` for 1.4.1, then again for 1.4.2.
M_KEY = ("m_key", ("key141", "key142"))


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


def test_a_candidate_read_past_its_share_of_the_deadline_implements_nothing(tmp_path: Path):
    (tmp_path / "A2S1.py").write_text("query121 = 1\n")
    (tmp_path / "A2S1 (1).py").write_text("query121 = 1\nquery122 = 2\n")
    found = discover(tmp_path, ["A2S1"], {"A2S1": ("query121", "query122")}, IntakeClock(0.0))["A2S1"]
    assert found.path.name == "A2S1.py", "neither could be read, so the plainest name wins"
    assert found.why.startswith("it implements as many answers as")


def test_a_file_read_past_the_deadline_is_graded_as_unreadable_saying_why(tmp_path: Path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "A2S1.py").write_text((CORPUS / "a2s1" / "correct_colab.py").read_text())
    table = load_table()
    table = dataclasses.replace(table, sandbox=dataclasses.replace(table.sandbox, intake_timeout=1e-9))
    results = grade_submission(RunOptions(submission, tmp_path / "results.json", sections={1}), table)
    assert {test["status"] for test in results["tests"]} == {"failed"}
    assert "A2S1.py could not be read within the 0.0 s the grader gives one file" in results["output"]
    assert "could not be read within" in results["tests"][0]["output"]


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
    assert normalised.where(error.value.lineno) == 'A2S1.ipynb, line 1 of the cell under "Title"'


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
    # `import torch` is not reached either: nothing the answer depends on reads `torch`.
    assert kept == ["def train_one_epoch(model, loader):\n    model.train()"]


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
    source = "import functools\ndef f():\n    return 1\n@functools.cache\ndef f():\n    return 2\n"
    kept = kept_lines(source, ["f"])
    assert kept[0] == "import functools" and kept[1].startswith("@functools.cache")
    assert len(kept) == 2  # the first `def f` is replaced before anything uses it
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
    sliced = slice_source(source, ["key141", "key142"], legacy=M_KEY)
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
    assert not slice_source(source, ["key141"], legacy=M_KEY).renamed_legacy


def test_statements_sharing_a_line_are_kept_separately():
    kept = kept_lines("import torch; x = 1; y = torch.ones(2)\nz = y\n", ["z"])
    assert kept == ["import torch", "y = torch.ones(2)", "z = y"]


# ------------------------------------------------------------------ notebooks as students leave them


def test_a_continuation_line_starting_with_an_operator_is_python_not_a_magic():
    source = "if (x\n    != y):\n    z = (1\n% 2)\n!ls\n"
    assert neutralise(source).split("\n") == ["if (x", "    != y):", "    z = (1", "% 2)", "pass", ""]


def test_a_magic_inside_a_triple_quoted_string_is_left_alone():
    source = 'text = """\n%matplotlib inline\n!pip install x\n"""\n%time y = 1\n'
    assert neutralise(source).split("\n") == [
        'text = """',
        "%matplotlib inline",
        "!pip install x",
        '"""',
        "pass",
        "",
    ]


def test_slicing_uses_characters_not_utf8_bytes_on_lines_with_non_ascii_text():
    source = (
        'import torch\nkey = torch.eye(4, 3); m_key = key.clone(); note = "‖k₂‖ = 1"\nm_key[2] = key[0]\n'
    )
    sliced = slice_source(source, ["key141"], legacy=M_KEY)
    assert [unit.source for unit in sliced.units] == [
        "import torch",
        "key = torch.eye(4, 3)",
        "key141 = key.clone()",
        "key141[2] = key[0]",
    ]


def test_slice_keeps_what_definitions_read_when_they_are_defined():
    source = """
import functools
LAST_DIM = -1
SCALE = 2
class Base:
    pass
def register(f):
    return f
class Helper(Base):
    factor = SCALE
@register
def attn_softmax(A, dim=LAST_DIM) -> Helper:
    return A.softmax(dim)
LAST_DIM = 5
"""
    kept = kept_lines(source, ["attn_softmax", "Helper"])
    assert "LAST_DIM = -1" in kept and "SCALE = 2" in kept
    assert "LAST_DIM = 5" not in kept
    namespace: dict = {}
    for unit in kept:
        exec(unit, namespace)
    assert namespace["attn_softmax"].__defaults__ == (-1,)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


A2S2_ANSWERS = ("make_causal_mask", "attn_softmax", "self_attention")
OTHERS = {"A2S1": ("query121", "query122", "query131"), "A2S3": ("evaluate",)}


def read(path: Path, answers: tuple[str, ...] = A2S2_ANSWERS, parts: tuple[int, int] = (2, 1)):
    return read_section(path, "A2S2", answers, parts, OTHERS)


SECTIONED = '''"""## 2.1 Implementing attention"""
import torch
DEVICE = "cpu"
def make_causal_mask(n):
    return torch.tril(torch.ones(n, n, device=DEVICE))
def self_attention(Q, K, V, n_heads=1, causal=True):
    return Q / math.sqrt(1)

"""## 2.2 Experimenting with your attention"""
import math
DEVICE = "cuda"
def self_attention(Q, K, V, n_heads=1, causal=True):
    return Q * 2
'''


def test_a_section_is_graded_as_it_stood_before_the_next_sections_heading(tmp_path: Path):
    source = read(write(tmp_path, "A2S2.py", SECTIONED))
    kept = [unit.source for unit in source.sliced.units]
    assert source.boundary is not None and source.boundary.title.startswith("2.2")
    assert 'DEVICE = "cpu"' in kept and 'DEVICE = "cuda"' not in kept
    assert not any("Q * 2" in unit for unit in kept)
    assert "import math" in kept  # imported below the heading, read by a function above it


@pytest.mark.parametrize(
    "heading",
    ['"""## 2.2 Experiments"""', "# ## 2.2 Experiments", "# %% [markdown]\n# ### Part 2.2: experiments"],
)
def test_the_boundary_is_found_in_every_export_style(tmp_path: Path, heading: str):
    text = SECTIONED.replace('"""## 2.2 Experimenting with your attention"""', heading)
    assert read(write(tmp_path, "A2S2.py", text)).boundary is not None


def test_without_a_boundary_or_with_an_answer_below_it_the_last_definition_wins(tmp_path: Path):
    no_heading = SECTIONED.replace('"""## 2.2 Experimenting with your attention"""', "")
    moved = SECTIONED + "def attn_softmax(A):\n    return A\n"
    for text in (no_heading, moved):
        source = read(write(tmp_path, "A2S2.py", text))
        assert source.boundary is None
        assert 'DEVICE = "cuda"' in [unit.source for unit in source.sliced.units]


def test_an_unparseable_cell_no_answer_needs_is_left_out_with_one_note(tmp_path: Path):
    text = "import torch\n\nmodel =\n\ndef self_attention(Q, K, V):\n    return Q\n"
    source = read(write(tmp_path, "A2S2.py", text))
    assert "def self_attention(Q, K, V):\n    return Q" in [unit.source for unit in source.sliced.units]
    assert source.notes == (
        "A2S2.py, line 3: `model =` is not valid Python (invalid syntax); that cell defines no answer, so it "
        "was left out and costs nothing.",
    )
    assert source.unreadable_answers == {}


def test_an_answer_whose_cell_does_not_parse_fails_alone_with_its_line_and_heading(tmp_path: Path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "### Step 1: the core of attention"},
            {"cell_type": "code", "source": ["def attn_softmax(A):\n", "    return A.softmax(dim=-1\n"]},
            {"cell_type": "code", "source": "def self_attention(Q, K, V):\n    return Q\n"},
        ]
    }
    source = read(write(tmp_path, "A2S2.ipynb", json.dumps(notebook)))
    assert "attn_softmax" not in {name for unit in source.sliced.units for name in unit.binds}
    assert "self_attention" in {name for unit in source.sliced.units for name in unit.binds}
    (note,) = source.notes
    assert note.startswith(
        'A2S2.ipynb, line 2 of the cell under "Step 1: the core of attention": `return A.softmax(dim=-1` '
        "is not valid Python ('(' was never closed)"
    )
    assert "see" not in note and "`attn_softmax` could not be graded" in note
    assert "shown at the top" in source.unreadable_answers["attn_softmax"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x = 1\x00\n", "a NUL byte"),
        ("x = " + "+".join(["1"] * 4_000) + "\n", "nested too deeply"),
        ("x = " + "(" * 300 + ")" * 300 + "\n", "too many nested parentheses"),
        ("x = " + "+".join(["1"] * 1_000) + "\n", "nested more than 200 levels deep"),
        ("x = '" + "a" * 20_000 + "'\n", "a line of 20,006 characters, longer than the 10,000"),
    ],
)
def test_hostile_chunks_are_left_out_with_a_note(tmp_path: Path, text: str, reason: str):
    source = read(
        write(tmp_path, "A2S2.py", "import torch\n\n" + text + "\ndef self_attention(Q):\n    return Q\n")
    )
    assert "self_attention" in {name for unit in source.sliced.units for name in unit.binds}
    (note,) = source.notes
    assert note.startswith("A2S2.py, line 3:") and reason in note


def test_a_file_that_is_not_utf8_is_read_with_a_note(tmp_path: Path):
    source = read(
        write(tmp_path, "A2S2.py", "# café\ndef self_attention(Q):\n    return Q\n".encode("latin-1"))
    )
    assert "self_attention" in {name for unit in source.sliced.units for name in unit.binds}
    assert "not UTF-8" in source.notes[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"cells": 5}', 'its "cells" entry is missing or not a list'),
        ("[1, 2]", 'its "cells" entry is missing or not a list'),
        ('{"cells": [\n  {"cell_type": "code", "source": "x"\n]}', "its JSON breaks at line 3, column 1"),
    ],
)
def test_a_malformed_notebook_is_refused_with_a_message_about_the_file(
    tmp_path: Path, content: str, words: str
):
    with pytest.raises(IntakeError, match="A2S2.ipynb is not a valid Jupyter notebook") as error:
        read(write(tmp_path, "A2S2.ipynb", content))
    assert words in str(error.value)


def test_malformed_cells_are_skipped_with_a_note(tmp_path: Path):
    notebook = {"cells": [5, {"cell_type": "code", "source": 7}, {"cell_type": "code", "source": "x = 1"}]}
    source = read(write(tmp_path, "A2S2.ipynb", json.dumps(notebook)))
    assert [note.split(" of ")[0] for note in source.notes] == ["cell 1", "cell 2"]


def test_another_notebooks_export_in_the_slot_is_named_as_the_likely_mix_up(tmp_path: Path):
    path = write(tmp_path, "A2S2.py", "import torch\nquery121 = torch.ones(3)\nquery122 = torch.eye(3)\n")
    with pytest.raises(IntakeError, match="A2S2.py looks like your A2S1 export, not A2S2"):
        read(path)


def test_discover_grades_the_candidate_defining_the_most_answers_and_says_why(tmp_path: Path):
    write(tmp_path, "A2S2.py", "def self_attention(Q):\n    return Q\n")
    write(
        tmp_path, "A2S2 (1).py", "def self_attention(Q):\n    return Q\ndef attn_softmax(A):\n    return A\n"
    )
    found = discover(tmp_path, ["A2S2"], {"A2S2": A2S2_ANSWERS})["A2S2"]
    assert found.path.name == "A2S2 (1).py"
    assert found.why == "it implements 2 of the 3 answers, more than A2S2.py (1)"
    write(tmp_path, "A2S2.py", "def self_attention(Q):\n    return Q\ndef attn_softmax(A):\n    return A\n")
    found = discover(tmp_path, ["A2S2"], {"A2S2": A2S2_ANSWERS})["A2S2"]
    assert found.path.name == "A2S2.py" and "plainest" in found.why


def test_a_cell_without_a_heading_above_is_named_by_its_place_among_the_code_cells(tmp_path: Path):
    notebook = {
        "cells": [
            {"cell_type": "code", "source": "import torch"},
            {"cell_type": "markdown", "source": "Some text, no heading."},
            {"cell_type": "code", "source": "x = 1\ny = (\n"},
        ]
    }
    normalised = normalise_file(write(tmp_path, "A2S1.ipynb", json.dumps(notebook)))
    lineno = normalised.text.split("\n").index("y = (") + 1
    assert normalised.where(lineno) == "A2S1.ipynb, line 2 of code cell 2"


def test_a_left_out_cell_that_sets_a_global_an_answer_reads_is_named_as_such(tmp_path: Path):
    text = (
        'import torch\n\nDEVICE = "cpu"; model =\n\n'
        "def make_causal_mask(n):\n    return torch.ones(n, device=DEVICE)\n"
    )
    (note,) = read(write(tmp_path, "A2S2.py", text)).notes
    assert "it also sets `DEVICE`, which your answers use" in note


COLAB_TIMED_CELL = """import torch

# Commented out IPython magic to ensure Python compatibility.
# %%time
# # the query that averages v0 and v1
# query132 = torch.tensor([1.0, 2.0, 3.0])
#{blank}
# print(query132)

# Commented out IPython magic to ensure Python compatibility.
# %%writefile notes.txt
# query131 = "not Python: written to a file"

# Commented out IPython magic to ensure Python compatibility.
import numpy as np
# %matplotlib inline
""".replace("{blank}", " ")  # Colab writes a blank line of a commented body as "# "


def test_colab_commented_python_cell_magics_get_their_bodies_back(tmp_path: Path):
    normalised = normalise_file(write(tmp_path, "A2S1.py", COLAB_TIMED_CELL))
    lines = normalised.text.split("\n")
    assert lines[5] == "query132 = torch.tensor([1.0, 2.0, 3.0])"
    assert lines[4] == "# the query that averages v0 and v1" and lines[6] == ""
    assert lines[11] == '# query131 = "not Python: written to a file"'
    assert lines[15] == "# %matplotlib inline"
    kept = slice_source(normalised.text, ["query132", "query131"]).units
    assert [unit.binds for unit in kept if unit.kind == "statement"] == [("query132",)]


NBCONVERT_TIMED_CELL = """import torch

# In[4]:


get_ipython().run_cell_magic('time', '', 'query121 = 1000 * torch.ones(3)\\nprint(query121)\\n')


# In[5]:


get_ipython().run_cell_magic('bash', '', 'echo query122 = 1\\n')
query122 = torch.eye(4)
"""


def test_nbconvert_python_cell_magics_become_their_bodies_and_lines_are_named_as_in_the_file(tmp_path: Path):
    normalised = normalise_file(write(tmp_path, "A2S1.py", NBCONVERT_TIMED_CELL))
    lines = normalised.text.split("\n")
    assert lines[5:7] == ["query121 = 1000 * torch.ones(3)", "print(query121)"]
    assert lines[12] == "pass" and lines[13] == "query122 = torch.eye(4)"
    assert normalised.where(14) == "A2S1.py, line 13"
    sliced = slice_source(normalised.text, ["query121", "query122"])
    assert {name for unit in sliced.units for name in unit.binds} >= {"query121", "query122"}


def test_an_optimisation_loop_that_steps_through_an_optimiser_is_reached():
    source = """
import torch
key, value = torch.randn(4, 3), torch.randn(4, 3)
def attention(q):
    return torch.softmax(q @ key.T, -1) @ value
query131 = torch.zeros(3, requires_grad=True)
optimizer = torch.optim.Adam([query131], lr=0.1)
losses = []
for step in range(200):
    loss = (attention(query131) - value.mean(0)).abs().max()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(losses[-1])
"""
    kept = kept_lines(source, ["query131"])
    assert "optimizer = torch.optim.Adam([query131], lr=0.1)" in kept
    assert any(unit.startswith("for step in range(200):") for unit in kept)
    assert "losses = []" in kept  # the loop appends to it
    assert "print(losses[-1])" not in kept


def test_a_value_made_trainable_in_its_own_assignment_is_followed_through_its_optimiser():
    source = """
import torch
key = torch.randn(4, 3)
q = key[0].clone().requires_grad_(True)
opt = torch.optim.SGD([q], lr=1.0)
for _ in range(200):
    opt.zero_grad()
    (-torch.log(torch.softmax(q @ key.T, dim=-1)[0])).backward()
    opt.step()
query121 = q.detach()
"""
    kept = kept_lines(source, ["query121"])
    assert any(unit.startswith("for _ in range(200):") for unit in kept)
    assert "opt = torch.optim.SGD([q], lr=1.0)" in kept


def test_a_list_filled_with_a_value_and_its_optimiser_update_the_value():
    source = """
import torch
q = torch.zeros(3, requires_grad=True)
params = []
params.append(q)
opt = torch.optim.SGD(params, lr=1.0)
(q.sum() * 1.0).backward()
opt.step()
query121 = q.detach()
"""
    kept = kept_lines(source, ["query121"])
    assert kept == [line for line in source.strip().split("\n")]


def test_objects_built_from_a_class_or_read_only_calls_do_not_drag_in_data_pipelines():
    source = """
from transformers import AutoTokenizer
from torch.utils.data import DataLoader
tokenizer = AutoTokenizer.from_pretrained("roberta-base")
class SST2Dataset:
    @staticmethod
    def collate_fn(batch):
        return tokenizer([example.text for example in batch])
sst2 = load_everything(tokenizer)
for split, dataset in sst2.items():
    print(split, len(dataset))
loader = DataLoader(sst2["train"], collate_fn=SST2Dataset.collate_fn)
batch = next(iter(loader))
batch["input_ids"].to("cpu")
"""
    kept = kept_lines(source, ["SST2Dataset"])
    assert 'tokenizer = AutoTokenizer.from_pretrained("roberta-base")' in kept
    assert not any("sst2" in unit or "loader" in unit for unit in kept)


def test_each_answer_has_its_own_reach():
    source = """
import math
import torch
SCALE = 2.0
def attn_scaled(A, n_embd, n_heads):
    return A / math.sqrt(n_embd / n_heads)
def attn_softmax(A):
    return torch.softmax(A * SCALE, dim=-1)
def self_attention(Q, K, V, n_heads=1, causal=True):
    return attn_softmax(attn_scaled(Q @ K.transpose(-2, -1), Q.shape[-1], n_heads)) @ V
"""
    sliced = slice_source(source, ["attn_scaled", "attn_softmax", "self_attention"])

    def reached(name: str) -> list[str]:
        return [ast.unparse(stmt).split("\n")[0] for stmt in sliced.reached_by([name])]

    assert reached("attn_scaled") == ["import math", "def attn_scaled(A, n_embd, n_heads):"]
    assert reached("attn_softmax") == ["import torch", "SCALE = 2.0", "def attn_softmax(A):"]
    assert reached("self_attention") == [
        "import math",
        "import torch",
        "SCALE = 2.0",
        "def attn_scaled(A, n_embd, n_heads):",
        "def attn_softmax(A):",
        "def self_attention(Q, K, V, n_heads=1, causal=True):",
    ]


def test_a_top_level_training_loop_never_reaches_the_globals_an_answer_reads():
    source = """
import torch
MODEL_NAME = "roberta-base"
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
tokenizer = AutoTokenizer.from_pretrained(MODEL_NAME)
def train_one_epoch(model, dataloader, optimizer, epoch):
    for batch in dataloader:
        inputs = batch["text_encoding"].to(device)
        tokenizer.decode(inputs["input_ids"][0])
model = load(MODEL_NAME).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
for epoch in range(10):
    for batch in loader:
        inputs = batch["text_encoding"].to(device)
        model(**inputs, labels=batch["label_encoding"]).loss.backward()
        optimizer.step()
        tokenizer.save_pretrained("out")
"""
    kept = kept_lines(source, ["train_one_epoch"])
    assert not any(unit.startswith(("model =", "optimizer =", "for epoch")) for unit in kept)
    assert 'MODEL_NAME = "roberta-base"' in kept and len(kept) == 5


CHECKED = '''"""## 2.1 Implementing attention"""
import torch
DEVICE = "cpu"
def make_causal_mask(n):
    return torch.tril(torch.ones(n, n, device=DEVICE))
def self_attention(Q, K, V, n_heads=1, causal=True):
    return Q
def compare_with_pytorch(n_heads, causal):
    print(self_attention(1, 2, 3) == MHA_wrapper(1, 2, 3))
compare_with_pytorch(n_heads=1, causal=True)

DEVICE = "cuda"  # set up for the experiments below

"""## 2.2 Experimenting with your attention"""
'''


def test_a_section_with_test_cells_is_graded_as_it_stood_when_the_last_one_ran(tmp_path: Path):
    path = write(tmp_path, "A2S2.py", CHECKED)
    checks = ("compare_with_pytorch", "MHA_wrapper")
    checked = read_section(path, "A2S2", A2S2_ANSWERS, (2, 1), OTHERS, checks)
    kept = [unit.source for unit in checked.sliced.units]
    assert 'DEVICE = "cpu"' in kept and 'DEVICE = "cuda"' not in kept
    assert checked.until == CHECKED.split("\n").index("compare_with_pytorch(n_heads=1, causal=True)") + 2
    unchecked = read(path)
    assert 'DEVICE = "cuda"' in [unit.source for unit in unchecked.sliced.units]


def test_an_answer_first_defined_after_the_last_test_cell_keeps_the_heading_as_the_end(tmp_path: Path):
    moved = CHECKED.replace('DEVICE = "cuda"', "def attn_softmax(A):\n    return A.softmax(-1)\nDEVICE = 'x'")
    source = read_section(
        write(tmp_path, "A2S2.py", moved), "A2S2", A2S2_ANSWERS, (2, 1), OTHERS, ("compare_with_pytorch",)
    )
    assert source.until == source.boundary.lineno
    assert "attn_softmax" in {name for unit in source.sliced.units for name in unit.binds}
