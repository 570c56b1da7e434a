"""Headless execution of a built notebook, cell by cell, stopping at the first cell that raises.

The tests use it to run the reference notebooks top to bottom and the student notebooks up to
their first TODO; instructors can use it the same way to check a notebook after editing its source.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode


@dataclass(frozen=True)
class CellFailure:
    """The first cell that raised: its position in the notebook and the exception's name and message."""

    index: int
    ename: str
    evalue: str


def execute_until_error(
    notebook: NotebookNode, cwd: Path, env: Mapping[str, str] | None = None, timeout: int = 600
) -> CellFailure | None:
    """Run the cells of ``notebook`` in order in a fresh ``python3`` kernel started in ``cwd``.

    ``env`` adds to (or overrides) this process's environment for the kernel. Outputs are stored
    in ``notebook``. Returns the first failure, or None when every cell ran.
    """
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3")
    with client.setup_kernel(cwd=str(cwd), env={**os.environ, **(env or {})}):
        for index, cell in enumerate(notebook.cells):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                return CellFailure(index, error.ename, error.evalue)
    return None


def cell_text_output(cell: NotebookNode) -> str:
    """Everything a code cell printed (streams and plain-text results), joined."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)
