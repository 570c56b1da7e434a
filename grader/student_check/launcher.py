"""Check your notebooks of the assignment before you submit them.

On your computer, in the folder with your exported notebooks:

    python check.py                 # finds every notebook of the assignment (.py or .ipynb) here
    python check.py NOTEBOOK.py     # only this notebook
    python check.py --help          # names the notebooks it looks for

In Colab, upload this file (Files panel), then run in a cell of the notebook you want to check, with
NOTEBOOK the notebook's name as you upload it (without .ipynb):

    import check; check.check_this_notebook("NOTEBOOK")

It runs the PUBLIC autograder tests on your code, graded exactly as Gradescope grades them (same
file handling, same sandbox, same messages), and lists the hidden tests it cannot run. Where a test
trains a large model, it may check your code on a small stand-in model and data instead; its report
says so. Your code runs in a separate process; the check never changes your files. It runs on Linux
and macOS, and in Colab (on Windows, use Colab).

This file carries a compressed copy of the public part of the autograder (BUNDLE, at the end);
it is unpacked into a temporary folder for each run and deleted afterwards.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path


def _unpack(bundle: str, target: Path) -> None:
    """Unpacks the autograder into `target`, readable by all (Colab runs your code as another user)."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(bundle))) as archive:
        archive.extractall(target)
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


UNSUPPORTED = (
    "check.py runs on Linux and macOS only (it runs your code in a separate, confined process). "
    "On Windows, use Colab: upload check.py in the Files panel and run "
    '`import check; check.check_this_notebook("{name}")` in a cell of the notebook you want to check{others}.'
)


def unsupported() -> str:
    """What check.py says where it cannot run, in the names of the notebooks it checks."""
    names = NOTEBOOKS or ("NOTEBOOK",)
    others = f" (the name of that notebook: {', '.join(names)})" if len(names) > 1 else ""
    return UNSUPPORTED.format(name=names[0], others=others)


def main(argv: list[str] | None = None) -> int:
    """Runs the public tests on the files or folders in `argv` (default: the current folder)."""
    if os.name != "posix":
        print(unsupported(), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="a2check-") as unpacked:
        _unpack(BUNDLE, Path(unpacked))
        sys.path.insert(0, unpacked)
        try:
            from grader.student_check.check import main as check_main

            return check_main(argv)
        finally:
            sys.path.remove(unpacked)


def check_this_notebook(name: str) -> None:
    """In Colab: checks the notebook this cell belongs to, saved as `name` (e.g. "HW1")."""
    from google.colab import _message

    notebook = _message.blocking_request("get_ipynb", timeout_sec=60)["ipynb"]
    with tempfile.TemporaryDirectory(prefix="a2check-notebook-") as folder:
        path = Path(folder) / f"{name}.ipynb"
        path.write_text(json.dumps(notebook), encoding="utf-8")
        main([str(path)])


#: The assignment's notebooks, and the bundle, both filled in when check.py is built
#: (handout/checker_bundle.py).
NOTEBOOKS: tuple[str, ...] = ()
BUNDLE = ""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
