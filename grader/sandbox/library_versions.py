"""Code written for the course's library versions runs on the grader's: stand-ins for removed APIs.

The handout links the documentation of transformers 4.37 (Colab's version when the course ran; the
table's `students_transformers`), and students write against it. The grader runs transformers 5,
which removed some of what that code calls. Each removed API below gets a stand-in in the student's
process that behaves as the old one did, so honest code runs unchanged; the trusted side tells the
student, in an ungraded note, which old APIs their code reached (``removed_api_notes``, read over
what the answers reach). A course whose students wrote for the grader's own version sets none.

The stand-ins are put in place when transformers is imported (an import hook), so a process that
never imports it pays nothing; a module already imported (a process forked from the warm template,
which preloads transformers) is patched at once.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

#: The old API as students write it -> what it became (for the note).
REMOVED = {
    "batch_encode_plus": "calling the tokenizer on the list of texts",
    "encode_plus": "calling the tokenizer on the text",
    "AdamW": "torch.optim.AdamW",
}


def removed_api_notes(statements: list[ast.stmt], version: str) -> list[str]:
    """One ungraded note per removed API that `statements` (what the answers reach) use."""
    if not version:
        return []
    used = {
        node.attr
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Attribute) and node.attr in REMOVED
    }
    used |= {
        alias.name
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformers")
        for alias in node.names
        if alias.name in REMOVED
    }
    return [
        f"Your code uses `{name}`, which the course's transformers ({version}) had and the grader's "
        f"(transformers 5) no longer has; the grader ran it as {version} did ({REMOVED[name]}). "
        "Nothing is deducted for it."
        for name in sorted(used)
    ]


def _old_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    """transformers 4's `pad_to_max_length=True` is today's `padding="max_length"`."""
    if kwargs.pop("pad_to_max_length", False):
        kwargs.setdefault("padding", "max_length")
    return kwargs


def _batch_encode_plus(self: Any, batch_text_or_text_pairs: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
    texts = list(batch_text_or_text_pairs)
    if texts and isinstance(texts[0], tuple | list) and len(texts[0]) == 2:
        return self([a for a, _ in texts], [b for _, b in texts], *args, **_old_keywords(kwargs))
    return self(texts, *args, **_old_keywords(kwargs))


def _encode_plus(self: Any, text: Any, text_pair: Any = None, *args: Any, **kwargs: Any) -> Any:
    return self(text, text_pair, *args, **_old_keywords(kwargs))


def _tokenizer_methods(module: ModuleType) -> None:
    base = module.PreTrainedTokenizerBase
    for name, method in (("batch_encode_plus", _batch_encode_plus), ("encode_plus", _encode_plus)):
        if not hasattr(base, name):
            setattr(base, name, method)


_made: dict[str, type] = {}


def _adamw(module: ModuleType) -> None:
    if "AdamW" not in _made:
        import torch

        class AdamW(torch.optim.AdamW):
            """transformers 4's AdamW: torch's, with its extra keywords accepted."""

            def __init__(self, params: Any, *args: Any, correct_bias: bool = True, **kwargs: Any) -> None:
                kwargs.pop("no_deprecation_warning", None)
                super().__init__(params, *args, **kwargs)

        _made["AdamW"] = AdamW
    if "AdamW" not in vars(module):
        vars(module)["AdamW"] = _made["AdamW"]


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs a function on a module right after it is first imported, whoever imports it."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches
        self.loaders: dict[str, importlib.abc.Loader] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.patches or fullname in self.loaders:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                self.loaders[fullname] = spec.loader
                spec.loader = self
                return spec
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loaders[spec.name].create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loaders[module.__name__].exec_module(module)
        # A package may replace itself in sys.modules while it runs (transformers' lazy module).
        self.patches[module.__name__](sys.modules.get(module.__name__, module))


def install_stand_ins(version: str) -> None:
    """Put the stand-ins for the course's `version` in place (none when empty); call once, before any
    student code runs."""
    if not version:
        return
    patches: dict[str, Callable[[ModuleType], None]] = {
        "transformers": _adamw,
        "transformers.optimization": _adamw,
        "transformers.tokenization_utils_base": _tokenizer_methods,
    }
    # A process forked from a warm template already holds some of these modules: patch those now.
    for name in [name for name in patches if name in sys.modules]:
        patches.pop(name)(sys.modules[name])
    sys.meta_path.insert(0, _AfterImport(patches))
