"""Check your Assignment 2 notebooks before you submit them.

On your computer, in the folder with your exported notebooks:

    python check.py                 # finds A2S1.py, A2S2.py, A2S3.py (or the .ipynb files) here
    python check.py A2S2.py         # only this notebook

In Colab, upload this file (Files panel), then run in a cell of the notebook you want to check:

    import check; check.check_this_notebook("A2S2")

It runs the PUBLIC autograder tests on your code, graded exactly as Gradescope grades them (same
file handling, same sandbox, same messages), and lists the hidden tests it cannot run. It checks §3
on a small stand-in model, not on SST-2. Your code runs in a separate process; the check never
changes your files. It runs on Linux and macOS, and in Colab (on Windows, use Colab).

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
    '`import check; check.check_this_notebook("A2S2")` in a cell of the notebook you want to check.'
)


def main(argv: list[str] | None = None) -> int:
    """Runs the public tests on the files or folders in `argv` (default: the current folder)."""
    if os.name != "posix":
        print(UNSUPPORTED, file=sys.stderr)
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
    """In Colab: checks the notebook this cell belongs to, saved as `name` (e.g. "A2S2")."""
    from google.colab import _message

    notebook = _message.blocking_request("get_ipynb", timeout_sec=60)["ipynb"]
    with tempfile.TemporaryDirectory(prefix="a2check-notebook-") as folder:
        path = Path(folder) / f"{name}.ipynb"
        path.write_text(json.dumps(notebook), encoding="utf-8")
        main([str(path)])


BUNDLE = ""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
