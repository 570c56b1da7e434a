"""Integrity: constructs that reach into the grading process, a tampered recorder, and what staff see.

The rules about how answers are computed apply only to what each answer reaches (grader/reach_rules.py).
This module names the constructs, and keeps the record staff read:

- **Constructs** (``constructs``): code that reads or changes the grading process itself (frames, the
  garbage collector's object lists, ``sys.modules``, builtins, code objects, ``ctypes``, the grader's
  own modules, code compiled from strings or imported by a computed name) is *forging*: a check's
  verdict could rest on what it changed, so an answer whose reach holds one is not graded. Other
  unusual code (``globals()``, ``vars()``, ``__dict__``, ``inspect``, threads, processes, PyTorch's
  internals) forges nothing; it is only noted.
- **What staff see** (``IntegrityLog``, results.json's hidden ``extra_data.integrity``): ``flags``
  for what could touch a verdict (an answer that reached a forging construct or broke its section's
  allowlist, a forging construct anywhere in the file, a recording that lost its canary, a reply not
  sent by the grader's code), which set ``flagged``; ``notes`` for the other constructs, reached or
  not, which never cost a point and do not set ``flagged``. The wording reports what was found; it
  accuses no one. A forging construct that no answer reaches costs no point either: it never runs.
"""

from __future__ import annotations

import ast
import math
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

DYNAMIC_CALLS = {"eval": True, "exec": True, "compile": True, "__import__": True}
NOTED_CALLS = {"globals", "vars", "locals", "breakpoint"}
#: Attributes that reach into the running program; True where they can change or read the grader.
REACHING_ATTRIBUTES = {
    "__code__": True,
    "__closure__": True,
    "__globals__": True,
    "__defaults__": True,
    "__kwdefaults__": True,
    "__builtins__": True,
    "__subclasses__": True,
    "cell_contents": True,
    "__getattribute__": True,
    "f_back": True,
    "f_locals": True,
    "f_globals": True,
    "f_builtins": True,
    "tb_frame": True,
    "gi_frame": True,
    "cr_frame": True,
    "_getframe": True,
    "settrace": True,
    "setprofile": True,
    "currentframe": True,
    "getouterframes": True,
    "getinnerframes": True,
    "get_objects": True,
    "get_referrers": True,
    "get_referents": True,
    "FunctionType": True,
    "CodeType": True,
    "resolve_name": True,
    "attrgetter": True,
    "methodcaller": True,
    "__wrapped__": False,
    "__dict__": False,
}
#: Modules whose import alone is a construct; True where importing them can forge.
REACHING_MODULES = {
    "grader": True,
    "ctypes": True,
    "cffi": True,
    "marshal": True,
    "builtins": True,
    "inspect": False,
    "threading": False,
    "_thread": False,
    "multiprocessing": False,
    "concurrent": False,
    "subprocess": False,
    "asyncio": False,
}
#: The one part of importlib that notebooks use honestly: Colab users reload a module they edited
#: (``importlib.reload(tinygpt)``). Everything else in it loads code by a name no reading can follow.
HONEST_IMPORTLIB = {"reload"}
TORCH_INTERNALS = {
    "_C",
    "ops",
    "_ops",
    "_dynamo",
    "_refs",
    "_prims",
    "_decomp",
    "library",
    "_python_dispatch",
}


@dataclass(frozen=True)
class Construct:
    """One construct found in the code: what it is, in the student's terms, its line, and whether it
    can forge a verdict."""

    what: str
    line: int
    forging: bool


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _import_constructs(node: ast.Import | ast.ImportFrom) -> list[tuple[str, bool]]:
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        found = [(f"imports {m}", True) for m in modules if m.startswith("importlib.")]
    else:
        module = node.module or ""
        modules = [module] if node.level == 0 and module else []
        found = [
            (f"imports {a.name} from {module}", True)
            for a in node.names
            if REACHING_ATTRIBUTES.get(a.name) or (module == "sys" and a.name == "modules")
        ]
        if module.split(".")[0] == "importlib":
            found += [
                (f"imports {a.name} from {module}", True)
                for a in node.names
                if a.name not in HONEST_IMPORTLIB
            ]
    for module in modules:
        root = module.split(".")[0]
        if root in REACHING_MODULES:
            found.append((f"imports {module}", REACHING_MODULES[root]))
        elif root == "torch" and set(module.split(".")[1:]) & TORCH_INTERNALS:
            found.append((f"imports PyTorch internals ({module})", False))
    return found


def _attribute_construct(node: ast.Attribute) -> tuple[str, bool] | None:
    dotted = _dotted(node) or node.attr
    parts = dotted.split(".")
    if node.attr in REACHING_ATTRIBUTES:
        return f"uses {dotted}", REACHING_ATTRIBUTES[node.attr]
    if node.attr == "modules" and "sys" in parts:
        return f"uses {dotted}", True
    if parts[0] == "importlib" and len(parts) == 2 and node.attr not in HONEST_IMPORTLIB:
        return f"uses {dotted}", True
    if node.attr in TORCH_INTERNALS and len(parts) > 1:
        return f"uses PyTorch internals ({dotted})", False
    return None


def _call_construct(node: ast.Call, modules: set[str]) -> tuple[str, bool] | None:
    if not isinstance(node.func, ast.Name):
        return None
    name = node.func.id
    if name in DYNAMIC_CALLS:
        return f"calls {name}()", DYNAMIC_CALLS[name]
    if name in NOTED_CALLS:
        return f"calls {name}()", False
    if name not in {"getattr", "setattr", "delattr"} or not node.args:
        return None
    owner = _dotted(node.args[0])
    root = owner.split(".")[0]
    if root in {"sys", "builtins", "__builtins__"} or (name != "getattr" and root in modules):
        # Replacing a library's function changes what every later call of it computes.
        return f"calls {name} on {owner}", True
    constant = len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
    return None if constant else (f"calls {name} with a computed name", False)


def _node_constructs(node: ast.AST, modules: set[str]) -> list[tuple[str, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return _import_constructs(node)
    found = None
    if isinstance(node, ast.Attribute):
        found = _attribute_construct(node)
    elif isinstance(node, ast.Call):
        found = _call_construct(node, modules)
    elif isinstance(node, ast.Name) and node.id == "__builtins__":
        found = ("uses __builtins__", True)
    return [found] if found else []


def module_names(statements: Iterable[ast.stmt]) -> set[str]:
    """The names `statements` bind by importing (`import torch.nn as nn` binds `nn`)."""
    return {
        (alias.asname or alias.name).split(".")[0]
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


def constructs(statements: Iterable[ast.stmt], modules: set[str] | None = None) -> list[Construct]:
    """Every construct in `statements` that reaches into the running program, by line. `modules`:
    the names the file binds to modules (default: those `statements` import)."""
    statements = list(statements)
    if modules is None:
        modules = module_names(statements)
    found = {
        (what, getattr(node, "lineno", 0), forging)
        for statement in statements
        for node in ast.walk(statement)
        for what, forging in _node_constructs(node, modules)
    }
    return sorted((Construct(*item) for item in found), key=lambda c: (c.line, c.what))


# ---------------------------------------------------------------- the operator recorder's canary


def new_canary() -> list[float]:
    """Two values the recorder must run before and after the student's call."""
    return [secrets.randbelow(1 << 30) / 8.0 + 0.5, secrets.randbelow(1 << 30) / 8.0 + 0.25]


@dataclass(frozen=True)
class Recording:
    """A recorded call: the forbidden attention that ran, or that the recorder was tampered with."""

    forbidden: tuple[str, ...]
    tampered: bool


def verify_recording(recorded: Any, canary: list[float]) -> Recording:
    """Judge the recorder's report against the canary the trusted side chose."""
    if not isinstance(recorded, dict):
        return Recording((), True)
    seen, found = recorded.get("canary"), recorded.get("forbidden")
    values_ok = (
        isinstance(seen, list)
        and len(seen) == len(canary)
        and all(
            isinstance(v, int | float) and math.isclose(v, want) for v, want in zip(seen, canary, strict=True)
        )
    )
    if not (values_ok and isinstance(found, list) and all(isinstance(name, str) for name in found)):
        return Recording((), True)
    return Recording(tuple(str(name) for name in found), False)


# ---------------------------------------------------------------- what staff see


@dataclass(frozen=True)
class Flag:
    """One thing staff should look at: in which section, what kind, what was found and where."""

    section: int
    #: "rule" (an answer reached what its rules refuse), "construct" (a forging construct no answer
    #: reaches), "recorder" (the canary went missing), "reply" (a reply not sent by the grader's code)
    #: or "note" (any other construct: never a verdict).
    kind: str
    what: str
    where: str


class IntegrityLog:
    """The flags and notes of one grading run, written into results.json's hidden ``extra_data``.

    A file can hold any number of constructs; each list keeps the first ``MAX_KEPT`` distinct ones and
    ``omitted`` counts the rest, so results.json stays readable whatever the file holds.
    """

    MAX_KEPT = 200

    def __init__(self) -> None:
        self.flags: list[Flag] = []
        self.notes: list[Flag] = []
        self.omitted = 0
        self._seen: set[Flag] = set()

    def add(self, flags: Iterable[Flag]) -> None:
        for flag in flags:
            if flag in self._seen:
                continue
            self._seen.add(flag)
            kept = self.notes if flag.kind == "note" else self.flags
            if len(kept) < self.MAX_KEPT:
                kept.append(flag)
            else:
                self.omitted += 1

    def extra_data(self) -> dict[str, Any]:
        return {
            "flagged": bool(self.flags),
            "flags": [asdict(flag) for flag in self.flags],
            "notes": [asdict(flag) for flag in self.notes],
            "omitted": self.omitted,
        }
