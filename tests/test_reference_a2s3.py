"""The A2S3 reference notebook runs top to bottom headless on the offline assets, and its stripped
student version hides every solution of §3 behind a TODO."""

import os
import re
from pathlib import Path

import nbformat
import pytest

from handout.build import build_notebook, read_source
from handout.execute import cell_text_output, execute_until_error

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("a2s3")
    text, relative = read_source(ROOT, "A2S3")
    build_notebook("A2S3", text, relative, out / "student", out / "dist")
    return out


def test_reference_notebook_runs_quick_on_the_offline_assets(built, tmp_path, offline_notebook_env):
    env = {
        **offline_notebook_env,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    notebook = nbformat.read(built / "dist" / "reference" / "A2S3.ipynb", as_version=4)
    failure = execute_until_error(notebook, cwd=tmp_path, env=env)
    assert failure is None, f"A2S3 cell {failure.index} raised {failure.ename}: {failure.evalue}"
    printed = "".join(cell_text_output(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert "train: 512 examples" in printed and "validation: 256 examples" in printed
    assert re.search(r"input_ids Tensor torch.int64 \(64, \d+\)", printed)
    assert "label_encoding Tensor (64,)" in printed
    test_accuracy = float(re.search(r"test accuracy of the best checkpoint: ([\d.]+)", printed).group(1))
    assert 0.0 <= test_accuracy <= 1.0
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the accuracy plot is missing"


def test_student_notebook_states_the_real_labels_and_keeps_only_todos(built):
    notebook = nbformat.read(built / "student" / "A2S3.ipynb", as_version=4)
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "label 0 means positive and label 1 means negative" in markdown
    for hidden in ("optimizer.zero_grad()", "loss.backward()", "argmax(dim=-1)", "truncation=True, return"):
        assert hidden not in code, hidden
    for name in ("__len__", "__getitem__", "__iter__", "collate_fn", "compute_accuracy", "evaluate"):
        body = code.split(f"def {name}(", 1)[1].split("\n\n", 1)[0]
        assert "raise NotImplementedError" in body or "= ...  # TODO" in body, name
    assert code.count("# TODO:") == 9
