"""Stand-ins that make Colab and Jupyter habits harmless in the student's process.

A notebook cell may do things that only work with a notebook front end behind it. Graded code runs
in a plain process, so each habit gets a stand-in that behaves as the notebook would have, minus the
widget; what it prints still goes to the process's output, which the grader keeps for the log:

- `from tqdm.notebook import tqdm` (and `trange`, `tqdm_notebook`, `tnrange`): the text progress bar,
  whether or not ipywidgets is installed ("IProgress not found" otherwise). `tqdm.auto` already
  falls back to the text bar outside a notebook.
- `IPython.display` (`display`, `clear_output`, `HTML`, `Markdown`, `Image` …) and the notebook's
  built-in `display(...)`: printed as text; a stand-in only where IPython is not installed.
- `google.colab`: `drive.mount(...)` and `drive.flush_and_unmount()` do nothing and say so;
  `files.upload()` returns no files and `files.download(...)` does nothing; `output.*` calls do
  nothing; `userdata.get(...)` raises a clear error (there are no secrets while grading).
- Interactive matplotlib: the non-interactive `Agg` backend, so `plt.show()` returns at once.

Shell and magic lines (`!pip`, `%matplotlib inline`) never reach this process: intake neutralises
them (grader/intake/normalise.py).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

GRADING = "(while grading)"


class _StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Provides the modules in `builders` when Python looks for them."""

    def __init__(self, builders: Mapping[str, Callable[[ModuleType], None]], packages: set[str]) -> None:
        self.builders = builders
        self.packages = packages

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.builders:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname in self.packages)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        self.builders[module.__name__](module)


def _text_bar(module: Any) -> None:
    from tqdm.std import tqdm, trange

    module.tqdm = module.tqdm_notebook = tqdm
    module.trange = module.tnrange = trange
    module.__all__ = ["tqdm", "trange", "tqdm_notebook", "tnrange"]


class _Shown:
    """What `HTML(...)`, `Markdown(...)`, `Image(...)` … make: printed as their data."""

    def __init__(self, data: Any = None, *_: Any, **options: Any) -> None:
        self.data = data if data is not None else options.get("url") or options.get("filename")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {str(self.data)[:200]}>"


def _display(*objects: Any, **_: Any) -> None:
    for value in objects:
        print(repr(value) if isinstance(value, _Shown) else value)


def _ipython_display(module: Any) -> None:
    module.display = _display
    module.clear_output = module.update_display = lambda *_, **__: None
    for name in ("HTML", "Markdown", "Image", "Latex", "Math", "JSON", "SVG", "Javascript", "Audio", "Video"):
        setattr(module, name, type(name, (_Shown,), {}))


def _ipython(module: Any) -> None:
    module.get_ipython = lambda: None
    module.display = importlib.import_module("IPython.display")


def _package(module: ModuleType) -> None:
    """`google` and `google.colab` themselves: empty packages their submodules hang from."""


def _drive(module: Any) -> None:
    def mount(mountpoint: str = "/content/drive", *_: Any, **__: Any) -> None:
        print(f"drive.mount({mountpoint!r}) skipped: Google Drive is not available {GRADING}.")

    module.mount = mount
    module.flush_and_unmount = lambda *_, **__: None


def _files(module: Any) -> None:
    module.upload = lambda *_, **__: {}
    module.download = lambda *_, **__: None


def _output(module: ModuleType) -> None:
    for name in ("enable_custom_widget_manager", "disable_custom_widget_manager", "clear", "eval_js"):
        setattr(module, name, lambda *_, **__: None)


class SecretNotFoundError(KeyError):
    """Raised by the `userdata.get` stand-in: there are no Colab secrets while grading."""


def _userdata(module: Any) -> None:
    def get(key: str) -> str:
        raise SecretNotFoundError(f"Colab secret {key!r} is not available {GRADING}")

    module.get = get
    module.SecretNotFoundError = SecretNotFoundError


def _builtin_display(*objects: Any, **options: Any) -> None:
    """The `display(...)` a notebook offers without an import."""
    importlib.import_module("IPython.display").display(*objects, **options)


def install() -> None:
    """Put the stand-ins in place; call once, before any student code runs."""
    os.environ["MPLBACKEND"] = "Agg"
    warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
    # First on the path, and in place of a copy a warm template may already have imported.
    sys.modules.pop("tqdm.notebook", None)
    sys.meta_path.insert(0, _StandIns({"tqdm.notebook": _text_bar}, set()))
    fallbacks = {
        "IPython": _ipython,
        "IPython.display": _ipython_display,
        "google": _package,
        "google.colab": _package,
        "google.colab.drive": _drive,
        "google.colab.files": _files,
        "google.colab.output": _output,
        "google.colab.userdata": _userdata,
    }
    # Last on the path: the real module wins wherever it is installed.
    sys.meta_path.append(_StandIns(fallbacks, {"IPython", "google", "google.colab"}))
    if not hasattr(builtins, "display"):
        vars(builtins)["display"] = _builtin_display
