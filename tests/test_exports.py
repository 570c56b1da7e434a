"""Every export style of contract.md yields the same answer through intake and the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import torch

from grader.session import GradingSession
from grader.table import load_table

EXPORTS = Path(__file__).parent / "submissions" / "exports"


def contract_key() -> torch.Tensor:
    torch.manual_seed(447)
    key = torch.randn(4, 3)
    key = key / key.norm(dim=1, keepdim=True)
    return key.round(decimals=2)


def write_ipynb(folder: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Part 1"),
        nbformat.v4.new_code_cell("!pip install torch\nimport torch\nfrom google.colab import drive"),
        nbformat.v4.new_code_cell(
            "torch.manual_seed(447)\nkey = torch.randn(4, 3)\nkey = key / key.norm(dim=1, keepdim=True)\n"
            "key.round_(decimals=2)"
        ),
        nbformat.v4.new_code_cell("%%time\nquery121 = 1e6 * key[0]\ndrive.mount('/content/drive')"),
    ]
    nbformat.write(notebook, folder / "A2S1.ipynb")


@pytest.mark.parametrize(
    "style", ["colab_download.py", "nbconvert_script.py", "jupytext_percent.py", "ipynb"]
)
def test_export_style_gives_the_students_query(tmp_path: Path, style: str):
    if style == "ipynb":
        write_ipynb(tmp_path)
    else:
        shutil.copy(EXPORTS / style, tmp_path / "A2S1.py")
    table = load_table()
    session = GradingSession(tmp_path, table, table.profile("offline"), protect=())
    session.start()
    try:
        query = session.section(1).get("query121")
    finally:
        session.close()
    torch.testing.assert_close(query, 1e6 * contract_key()[0])
