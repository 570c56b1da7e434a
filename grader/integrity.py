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
    "attrgetter": False,
    "methodcaller": False,
    "__wrapped__": False,
    "__dict__": False,
}
#: Modules whose import alone is a construct; True where importing them can forge.
REACHING_MODULES = {
    "grader": True,
    "ctypes": True,
    "cffi": True,
    "marshal": True,
    "builtins": False,
    "inspect": False,
    "threading": False,
    "_thread": False,
    "multiprocessing": False,
    "concurrent": False,
    "subprocess": False,
    "asyncio": False,
}
#: The parts of importlib that notebooks use honestly: Colab users reload a module they edited
#: (``importlib.reload(helpers)``) and ask whether a package is installed (``find_spec``). Everything
#: else in it loads code by a name no reading can follow.
HONEST_IMPORTLIB = {"reload", "find_spec"}
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
        found = [(f"imports {m}", m != "importlib.util") for m in modules if m.startswith("importlib.")]
    else:
        module = node.module or ""
        modules = [module] if node.level == 0 and module else []
        found = [
            (f"imports {a.name} from {module}", REACHING_ATTRIBUTES.get(a.name, True))
            for a in node.names
            if a.name in REACHING_ATTRIBUTES or (module == "sys" and a.name == "modules")
        ]
        if module.split(".")[0] == "importlib":
            found += [
                (f"imports {a.name} from {module}", True)
                for a in node.names
                if a.name not in HONEST_IMPORTLIB and module in ("importlib", "importlib.util")
            ]
    for module in modules:
        root = module.split(".")[0]
        if root in REACHING_MODULES:
            found.append((f"imports {module}", REACHING_MODULES[root]))
        elif root == "torch" and set(module.split(".")[1:]) & TORCH_INTERNALS:
            found.append((f"imports PyTorch internals ({module})", False))
    return found


class _Reading:
    """Finds the constructs of some statements, knowing each node's parent and the file's modules."""

    def __init__(self, statements: list[ast.stmt], modules: set[str]) -> None:
        self.modules = modules | _module_aliases(statements, modules)
        self.sys_names = {
            alias.asname or "sys"
            for st in statements
            for n in ast.walk(st)
            if isinstance(n, ast.Import)
            for alias in n.names
            if alias.name == "sys"
        }
        assignments = [n for st in statements for n in ast.walk(st) if isinstance(n, ast.Assign)]
        for _ in range(2):  # an alias of an alias
            self.sys_names |= {
                t.id
                for a in assignments
                if self.is_sys(a.value)
                for t in a.targets
                if isinstance(t, ast.Name)
            }
        self.parents = {
            id(child): parent
            for statement in statements
            for parent in ast.walk(statement)
            for child in ast.iter_child_nodes(parent)
        }

    def attribute(self, node: ast.Attribute) -> tuple[str, bool] | None:
        return self.named(node.attr, _dotted(node) or node.attr, node, node.value)

    def is_sys(self, node: ast.AST | None) -> bool:
        """Whether `node` is the sys module: `sys`, `torch.sys`, `getattr(torch, "sys")`, an alias."""
        if isinstance(node, ast.Name):
            return node.id in self.sys_names
        if isinstance(node, ast.Attribute):
            return node.attr == "sys"
        return (
            isinstance(node, ast.Call)
            and _called(node) == "getattr"
            and len(node.args) > 1
            and (_constant_text(node.args[1]) == "sys")
        )

    def named(
        self, attribute: str, dotted: str, node: ast.AST, receiver: ast.AST | None = None
    ) -> tuple[str, bool] | None:
        """The construct an attribute read by `attribute` (of `receiver`) is, written as `dotted`."""
        parts = dotted.split(".")
        if attribute in REACHING_ATTRIBUTES:
            return f"uses {dotted}", REACHING_ATTRIBUTES[attribute]
        if attribute == "modules" and ("sys" in parts or self.is_sys(receiver)):
            return f"uses {dotted}", not self.membership_test(node)
        if parts[0] == "importlib" and len(parts) == 2 and attribute not in HONEST_IMPORTLIB:
            parent = self.parents.get(id(node))
            honest_part = isinstance(parent, ast.Attribute) and parent.attr in HONEST_IMPORTLIB
            return f"uses {dotted}", not honest_part
        if attribute in TORCH_INTERNALS and len(parts) > 1:
            return f"uses PyTorch internals ({dotted})", False
        return None

    def membership_test(self, node: ast.AST) -> bool:
        """`"google.colab" in sys.modules`: asking whether a module is loaded reads nothing of it."""
        parent = self.parents.get(id(node))
        return (
            isinstance(parent, ast.Compare)
            and node in parent.comparators
            and all(isinstance(op, ast.In | ast.NotIn) for op in parent.ops)
        )

    def call(self, node: ast.Call) -> tuple[str, bool] | None:
        if _called(node) in ("attrgetter", "methodcaller"):
            return self.dotted_strings(node)
        if not isinstance(node.func, ast.Name):
            return None
        name = node.func.id
        if name in DYNAMIC_CALLS:
            return f"calls {name}()", DYNAMIC_CALLS[name]
        if name in NOTED_CALLS:
            return f"calls {name}()", False
        if name not in {"getattr", "setattr", "delattr", "hasattr"} or not node.args:
            return None
        owner = _dotted(node.args[0])
        root = owner.split(".")[0]
        attribute = _constant_text(node.args[1]) if len(node.args) > 1 else None
        if root in {"sys", "builtins", "__builtins__"}:
            return f"calls {name} on {owner}", True
        if attribute is not None and (
            found := self.named(attribute, f"{owner}.{attribute}", node, node.args[0])
        ):
            return found
        if name == "setattr" and root in self.modules:
            # A library's function replaced changes what every later call of it computes; a setting
            # given a plain value (`setattr(torch.backends.cudnn, "benchmark", True)`) does not.
            value = node.args[2] if len(node.args) > 2 else None
            return f"calls setattr on {owner}", not isinstance(value, ast.Constant)
        if attribute is not None or name == "hasattr":
            return None
        return f"calls {name} with a computed name", False

    def dotted_strings(self, node: ast.Call) -> tuple[str, bool] | None:
        """`operator.attrgetter("sys.modules")`: each written name is read as an attribute."""
        for text in filter(None, map(_constant_text, node.args)):
            parts = text.split(".")
            for index, part in enumerate(parts):
                found = self.named(part, ".".join(parts[: index + 1]), node)
                if found and found[1]:
                    return f"uses {_called(node)}({text!r})", True
        return None

    def node(self, node: ast.AST) -> list[tuple[str, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            return _import_constructs(node)
        found = None
        if isinstance(node, ast.Attribute):
            found = self.attribute(node)
        elif isinstance(node, ast.Call):
            found = self.call(node)
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            found = ("uses __builtins__", True)
        elif isinstance(node, ast.MatchClass):
            return [f for attribute in node.kwd_attrs if (f := self.named(attribute, attribute, node))]
        return [found] if found else []


def _constant_text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _module_aliases(statements: list[ast.stmt], modules: set[str]) -> set[str]:
    """Names bound to a module by assignment (`t = torch`, `s = torch.sys`)."""
    return {
        target.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Assign) and _dotted(node.value).split(".")[0] in modules
        for target in node.targets
        if isinstance(target, ast.Name)
    }


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
    reading = _Reading(statements, module_names(statements) if modules is None else modules)
    found = {
        (what, getattr(node, "lineno", 0), forging)
        for statement in statements
        for node in ast.walk(statement)
        for what, forging in reading.node(node)
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
