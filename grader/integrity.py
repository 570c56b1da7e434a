"""Integrity: constructs honest code never needs, tampering with the recorder, and the staff's flag.

Two kinds of evidence raise the integrity flag that staff see (results.json ``extra_data.integrity``,
never shown to students; see docs/verdicts.md):

- **Static review** of the code the grader keeps. §2.1 builds attention from plain tensor operations,
  so reaching into PyTorch's internals (``torch._C``, ``torch.ops``, an attribute of a torch module
  whose name is computed) is flagged there. In every section, code that edits or inspects the
  grading process is flagged: ``eval``/``exec``/``compile`` of strings, dynamic imports, code-object
  and closure surgery, ``sys.modules``/``builtins`` edits, ``gc`` and frame inspection, ``ctypes``,
  threads and processes in §2.1, and importing the grader itself.
- **A recording that lost its canary** (``verify_recording``): the operator recorder in the student's
  process did not see the values the trusted side asked it to run, so it was switched off or replaced.

A flagged construct fails the tests it could forge (§2.1's from-scratch tests; every test of §1 or §3)
with a plain message; the flag itself is for staff to look at, not a verdict.
"""

from __future__ import annotations

import ast
import math
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

#: The section whose tests carry the from-scratch rule.
FROM_SCRATCH_SECTION = 2
TORCH_MODULES = {"torch", "F", "nn", "functional"}
DYNAMIC_CALLS = {"eval", "exec", "compile", "__import__", "globals", "vars", "breakpoint"}
SURGERY_ATTRIBUTES = {
    "__code__",
    "__closure__",
    "__globals__",
    "__defaults__",
    "__kwdefaults__",
    "__wrapped__",
    "__builtins__",
    "__subclasses__",
    "__dict__",
    "cell_contents",
    "__getattribute__",
    "f_back",
    "f_locals",
    "f_globals",
    "f_builtins",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "_getframe",
    "settrace",
    "setprofile",
    "currentframe",
    "get_objects",
    "get_referrers",
    "get_referents",
    "modules",
    "FunctionType",
    "CodeType",
}
TAMPER_MODULES = {"grader", "ctypes", "cffi", "inspect", "builtins", "marshal"}
#: The one part of importlib that notebooks use honestly: Colab users reload a module they edited
#: (``importlib.reload(tinygpt)``). Everything else in it loads code by a name the review cannot read.
HONEST_IMPORTLIB = {"reload"}
#: Modules §2.1's functions never need: running work elsewhere hides it from the recorder.
CONCURRENCY_MODULES = {"threading", "_thread", "multiprocessing", "concurrent", "subprocess", "signal"}
PROCESS_CALLS = {"fork", "system", "execv", "execve", "popen"}
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
class Finding:
    """One construct the review flagged: what it is, in the student's terms, and its line."""

    what: str
    line: int

    def message(self, filename: str) -> str:
        return f"{self.what} ({filename}, line {self.line})"


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _torch_aliases(tree: ast.Module) -> set[str]:
    """Names the code binds to torch or one of its modules (``import torch.nn.functional as F``)."""
    names = set(TORCH_MODULES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


@dataclass(frozen=True)
class _Context:
    """What the review of one section needs: whether §2.1's rules apply, and the names of torch."""

    from_scratch: bool
    torch_names: set[str]


def _importlib_findings(node: ast.AST) -> list[str]:
    """Imports of importlib's loaders; ``import importlib`` alone is judged by the attributes used."""
    if isinstance(node, ast.Import):
        return [f"imports {alias.name}" for alias in node.names if alias.name.startswith("importlib.")]
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib":
        if node.module != "importlib":
            return [f"imports from {node.module}"]
        return [f"imports {a.name} from importlib" for a in node.names if a.name not in HONEST_IMPORTLIB]
    return []


def _import_findings(node: ast.AST, context: _Context) -> list[str]:
    found = []
    if isinstance(node, ast.ImportFrom):
        found += [f"imports {a.name} from {node.module}" for a in node.names if a.name in SURGERY_ATTRIBUTES]
    found += _importlib_findings(node)
    for module in _imported_modules(node):
        root = module.split(".")[0]
        if root in TAMPER_MODULES:
            found.append(f"imports {module}")
        elif context.from_scratch and root in CONCURRENCY_MODULES:
            found.append(f"imports {module}, which runs work outside the grader's view")
        elif context.from_scratch and root == "torch" and set(module.split(".")[1:]) & TORCH_INTERNALS:
            found.append(f"imports PyTorch internals ({module})")
    return found


def _attribute_finding(node: ast.Attribute, context: _Context) -> str | None:
    dotted = _dotted(node)
    parts = dotted.split(".")
    if node.attr in SURGERY_ATTRIBUTES and (node.attr != "modules" or "sys" in parts):
        return f"uses {dotted or node.attr}, which reaches into the running program"
    if parts[0] == "importlib" and len(parts) == 2 and node.attr not in HONEST_IMPORTLIB:
        return f"uses {dotted}, which loads code by a name the grader cannot read"
    if context.from_scratch and parts[0] in context.torch_names and node.attr in TORCH_INTERNALS:
        return f"uses PyTorch internals ({dotted})"
    if context.from_scratch and parts[0] == "os" and node.attr in PROCESS_CALLS:
        return f"uses {dotted}"
    return None


def _call_finding(node: ast.Call, context: _Context) -> str | None:
    if not isinstance(node.func, ast.Name):
        return None
    name = node.func.id
    if name in DYNAMIC_CALLS:
        return f"calls {name}()"
    if name not in {"getattr", "setattr", "delattr", "hasattr"} or not node.args:
        return None
    owner = _dotted(node.args[0])
    constant = len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
    if (
        context.from_scratch
        and owner.split(".")[0] in context.torch_names
        and (name != "getattr" or not constant)
    ):
        return f"calls {name} on {owner} with a computed name"
    if owner.split(".")[0] in {"sys", "builtins", "__builtins__"}:
        return f"calls {name} on {owner}"
    return None


def _findings(node: ast.AST, context: _Context) -> list[str]:
    found = _import_findings(node, context)
    if isinstance(node, ast.Attribute):
        found.append(_attribute_finding(node, context) or "")
    elif isinstance(node, ast.Call):
        found.append(_call_finding(node, context) or "")
    elif isinstance(node, ast.Name) and node.id == "__builtins__":
        found.append("uses __builtins__")
    return [what for what in found if what]


def review(tree: ast.Module, section: int) -> list[Finding]:
    """Constructs in the kept code of ``section`` that honest code for it never needs, by line."""
    context = _Context(section == FROM_SCRATCH_SECTION, _torch_aliases(tree))
    findings = {
        (what, getattr(node, "lineno", 0)) for node in ast.walk(tree) for what in _findings(node, context)
    }
    return sorted((Finding(what, line) for what, line in findings), key=lambda f: (f.line, f.what))


def failure_message(findings: list[Finding], filename: str, section: int) -> str:
    """What the student reads on each test the findings fail."""
    listed = "; ".join(f.message(filename) for f in findings[:3])
    more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
    rule = (
        "This exercise builds attention from plain tensor operations, so its from-scratch tests cannot "
        "be passed by"
        if section == FROM_SCRATCH_SECTION
        else "The grader does not accept, in any test of this notebook,"
    )
    return (
        f"{rule} code that reaches into PyTorch's internals or into the running program. Your code "
        f"{listed}{more}. Remove it (code written for the exercise never needs it), and the course "
        "staff have been told of it."
    )


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
    """One reason a submission was flagged for staff."""

    section: int
    kind: str  # "construct" (static review) or "recorder" (the canary went missing)
    what: str
    where: str


class IntegrityLog:
    """The flags of one grading run, written into results.json's hidden ``extra_data``."""

    def __init__(self) -> None:
        self.flags: list[Flag] = []

    def add(self, flags: Iterable[Flag]) -> None:
        for flag in flags:
            if flag not in self.flags:
                self.flags.append(flag)

    def extra_data(self) -> dict[str, Any]:
        return {"flagged": bool(self.flags), "flags": [asdict(flag) for flag in self.flags]}
