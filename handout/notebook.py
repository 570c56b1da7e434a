"""Notebooks from jupytext percent sources, with fixed metadata so that every build is byte-identical."""

import jupytext
import nbformat
from nbformat import NotebookNode

# Metadata Jupyter and Colab both understand; nothing in it depends on the machine or the time.
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
    "colab": {"provenance": [], "toc_visible": True},
}


def notebook_from_percent(text: str, name: str, banner: str) -> NotebookNode:
    """Parse a percent-format source into a clean nbformat v4 notebook whose first cell is ``banner``.

    Outputs and execution counts are empty, cell metadata is dropped, and cell ids are derived from
    ``name`` and the cell's position, so the same source always gives the same notebook.
    """
    parsed = jupytext.reads(text, fmt="py:percent")
    notebook = nbformat.v4.new_notebook(metadata=NOTEBOOK_METADATA)
    notebook.cells.append(nbformat.v4.new_markdown_cell(banner))
    for cell in parsed.cells:
        if cell.cell_type == "code":
            notebook.cells.append(nbformat.v4.new_code_cell(cell.source))
        elif cell.cell_type == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(cell.source))
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{name.lower()}-{index:03d}"
    nbformat.validate(notebook)
    return notebook


def notebook_json(notebook: NotebookNode) -> str:
    """The notebook as nbformat writes it (sorted keys, one-space indent), ending in a newline."""
    return nbformat.writes(notebook, version=4) + "\n"
