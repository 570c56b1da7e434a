"""Rules about *how* an answer is computed, applied to what that answer reaches and to nothing else.

An answer's reach (grader/intake/slicer.py) is the code it depends on: its body, the student's
functions and classes it calls, the globals they read and the top-level statements that build them.
Code that no answer reaches (experiments, `main()`, print helpers, plots) never runs while grading and
is never judged here: it can cost no point, and staff see it only as a note (grader/integrity.py).

Two rules read a reach:

- **An allowlist**, for a section that declares one (§2.1's from-scratch rule,
  grader/sections/s2/allowlist.py). Every name and attribute in the reach must resolve, by reading
  the code, to the student's own code in the reach, a listed operation of a listed module, a listed
  attribute of a value, or a listed builtin. Anything else is refused, whatever its name: an allowlist
  closes the routes a list of forbidden names cannot enumerate (another library's attention, a
  resolver, a thread, an importer). Names read with a computed name (`getattr(x, name)`), dunder
  attributes, async code, assignments to a module's attributes and star imports cannot be resolved by
  reading, so they are refused too.
- **The forging constructs**, for every section: code that reads or edits the grading process itself
  (frames, the garbage collector's object lists, `sys.modules`, builtins, code objects, `ctypes`, the
  grader's own modules, code compiled from strings or imported by a computed name). A check's verdict
  could rest on what such code changed, so an answer that reaches one is not graded.

Both give `Violation`s; the session fails the tests of each answer that has one, with a plain message
naming the construct and its line (grader/session.py), and staff see them in results.json.
"""

from __future__ import annotations

import ast
import builtins
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Allowlist:
    """What the reach of an answer may use under a section's allowlist rule."""

    #: The rule in one sentence, for the student; a violation's message continues it.
    rule: str
    #: Qualified module name -> the names it may be used for (functions, classes, constants).
    modules: dict[str, frozenset[str]]
    #: Attributes allowed on any value the code makes (tensor methods, list and string methods).
    value_attributes: frozenset[str]
    #: Builtins the code may name.
    builtins: frozenset[str]
    #: Qualified classes a class of the student's may derive from.
    bases: frozenset[str]


@dataclass(frozen=True)
class Violation:
    """One construct in a reach that a rule refuses: what it resolves to, as written, and its line."""

    what: str
    written: str
    line: int


# ---------------------------------------------------------------- reading names as Python resolves them


class _Module(NamedTuple):
    name: str


class _Member(NamedTuple):
    name: str


class _Value(NamedTuple):
    pass


class _Refused(NamedTuple):
    pass


_Kind = _Module | _Member | _Value | _Refused
VALUE = _Value()
REFUSED = _Refused()
#: Dunder methods a student's class may define (they run only when the student's own code uses them).
CLASS_DUNDERS = frozenset(
    {"__init__", "__call__", "__repr__", "__str__", "__len__", "__getitem__", "__iter__"}
)
#: Dunder names that only say what code is called (harmless to read: `fn.__name__` in a debug print).
PLAIN_DUNDERS = frozenset({"__name__", "__doc__", "__qualname__"})
PYTHON_BUILTINS = frozenset(dir(builtins))


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _imports(statements: list[ast.stmt]) -> dict[str, str]:
    """Local name -> qualified name, for every import in the reach (top level or inside functions)."""
    names: dict[str, str] = {}
    for node in _nodes(statements):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _student_names(statements: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """Names the student's code binds (variables, parameters, functions, classes) and the attribute
    names it gives its own objects (`self.n_heads = …`, methods of its classes)."""
    names: set[str] = set()
    attributes: set[str] = set()
    for node in _nodes(statements):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            attributes.add(node.attr)
        if isinstance(node, ast.ClassDef):
            attributes.update(
                item.name for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            attributes.update(t.id for item in node.body for t in _targets(item) if isinstance(t, ast.Name))
    return names, attributes


def _module_aliases(statements: list[ast.stmt], imports: dict[str, str], names: set[str]) -> dict[str, str]:
    """Names bound once, at top level, to an imported name or an attribute of one
    (`functional = torch.nn.functional`): read as that qualified name."""
    bindings: dict[str, list[ast.AST]] = {}
    for node in _nodes(statements):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bindings.setdefault(node.id, []).append(node)
    aliases = {}
    for statement in statements:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            continue
        target, value = statement.targets[0], statement.value
        if not (isinstance(target, ast.Name) and len(bindings.get(target.id, ())) == 1):
            continue
        dotted = _dotted_name(value) or ""
        root = dotted.split(".")[0]
        if root in imports and root not in names:
            aliases[target.id] = imports[root] + dotted[len(root) :]
    return aliases


def _dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets)
    if isinstance(stmt, ast.AnnAssign):
        return [stmt.target]
    return []


def _nodes(statements: Iterable[ast.stmt]) -> Iterator[ast.AST]:
    for statement in statements:
        yield from ast.walk(statement)


def _written(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        return "?"
    return text if len(text) <= 80 else text[:79] + "…"


class _AllowlistReading:
    """Resolves every name and attribute of a reach against an allowlist, noting what it refuses."""

    def __init__(self, statements: list[ast.stmt], allowlist: Allowlist) -> None:
        self.allowlist = allowlist
        self.imports = _imports(statements)
        self.names, self.attributes = _student_names(statements)
        self.imports.update(_module_aliases(statements, self.imports, self.names))
        self.names -= set(self.imports)
        self.kinds: dict[int, _Kind] = {}
        self.found: dict[tuple[str, int], Violation] = {}

    def refuse(self, what: str, node: ast.AST, written: str | None = None) -> _Kind:
        line = getattr(node, "lineno", 0)
        self.found.setdefault((what, line), Violation(what, written or _written(node), line))
        return REFUSED

    def allowed_member(self, qualified: str) -> bool:
        module, _, name = qualified.rpartition(".")
        return name in self.allowlist.modules.get(module, frozenset())

    def qualified(self, qualified: str, node: ast.AST) -> _Kind:
        if qualified in self.allowlist.modules:
            return _Module(qualified)
        if self.allowed_member(qualified):
            return _Member(qualified)
        return self.refuse(qualified, node)

    def name(self, node: ast.Name) -> _Kind:
        if node.id in self.imports:
            return self.qualified(self.imports[node.id], node)
        if node.id in self.names:
            return VALUE
        if node.id in self.allowlist.builtins or node.id in PLAIN_DUNDERS:
            return VALUE
        if node.id in PYTHON_BUILTINS or _dunder(node.id):
            return self.refuse(node.id, node)
        return VALUE  # bound nowhere: a NameError when it runs, not a rule

    def attribute(self, node: ast.Attribute) -> _Kind:
        base = self.kind(node.value)
        if isinstance(base, _Refused):
            return REFUSED
        plain = node.attr in PLAIN_DUNDERS and isinstance(node.ctx, ast.Load)
        if _dunder(node.attr) and not plain and not (node.attr == "__init__" and _is_super_call(node.value)):
            return self.refuse(f"{_written(node.value)}.{node.attr}", node)
        if isinstance(base, _Module):
            if isinstance(node.ctx, ast.Store | ast.Del):
                return self.refuse(f"assigning {base.name}.{node.attr}", node)
            return self.qualified(f"{base.name}.{node.attr}", node)
        if node.attr in self.allowlist.value_attributes or node.attr in self.attributes or plain:
            return VALUE
        owner = base.name if isinstance(base, _Member) else _written(node.value)
        return self.refuse(f"{owner}.{node.attr}", node)

    def call(self, node: ast.Call) -> _Kind:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and node.func.id not in self.names
        ):
            if (
                len(node.args) < 2
                or not isinstance(node.args[1], ast.Constant)
                or not isinstance(node.args[1].value, str)
            ):
                return self.refuse(f"{node.func.id} with a computed name", node)
            attribute = ast.Attribute(value=node.args[0], attr=node.args[1].value, ctx=ast.Load())
            ast.copy_location(attribute, node)
            self.kind(attribute)
            return VALUE
        self.kind(node.func)
        return VALUE

    def kind(self, node: ast.AST) -> _Kind:
        key = id(node)
        if key not in self.kinds:
            if isinstance(node, ast.Name):
                self.kinds[key] = self.name(node)
            elif isinstance(node, ast.Attribute):
                self.kinds[key] = self.attribute(node)
            elif isinstance(node, ast.Call):
                self.kinds[key] = self.call(node)
            else:
                self.kinds[key] = VALUE
        return self.kinds[key]

    def statement(self, node: ast.AST) -> None:
        """What a statement itself may not do: import an unlisted module, run async code, define a
        class on an unlisted base or one of Python's hooks."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.qualified(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node)
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            self.refuse("async code", node, "async")
        elif isinstance(node, ast.ClassDef):
            self.class_definition(node)

    def import_from(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            self.refuse("a relative import", node)
            return
        for alias in node.names:
            if alias.name == "*":
                self.refuse(f"everything from {node.module}", node, f"from {node.module} import *")
            else:
                self.qualified(f"{node.module}.{alias.name}", node)

    def class_definition(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            kind = self.kind(base)
            if isinstance(base, ast.Name) and base.id in self.names:
                continue
            qualified = kind.name if isinstance(kind, _Module | _Member) else _written(base)
            if qualified not in self.allowlist.bases and not isinstance(kind, _Refused):
                self.refuse(f"a class derived from {qualified}", base)
        for keyword in node.keywords:
            self.refuse(f"a class made with {keyword.arg}=", keyword.value)
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and _dunder(item.name) and item.name not in CLASS_DUNDERS:
                self.refuse(f"a class that defines {item.name}", item, f"def {item.name}")

    def read(self, statements: list[ast.stmt]) -> list[Violation]:
        for node in _nodes(statements):
            self.statement(node)
            if isinstance(node, ast.Name | ast.Attribute | ast.Call):
                self.kind(node)
        return sorted(self.found.values(), key=lambda v: (v.line, v.what))


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def allowlist_violations(statements: list[ast.stmt], allowlist: Allowlist) -> list[Violation]:
    """What the reach `statements` uses that `allowlist` does not list, by line."""
    return _AllowlistReading(statements, allowlist).read(statements)


def load_allowlist(reference: str) -> Allowlist:
    """The allowlist a table names as `module:NAME` (a section's `allowlist` setting)."""
    module, _, name = reference.partition(":")
    found = getattr(importlib.import_module(module), name, None)
    if not isinstance(found, Allowlist):
        raise ValueError(f"{reference} is not an allowlist (grader.reach_rules.Allowlist)")
    return found


def allowlist_message(answer: str, allowlist: Allowlist, refused: list[tuple[str, str, str]]) -> str:
    """What the student reads on each test of `answer`: (as written, what it is, where) per use."""
    uses = "; ".join(
        f"`{written}`" + ("" if what == written else f" ({what})") + f", {where}"
        for written, what, where in refused[:3]
    )
    more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
    which = "that is not one of them" if len(refused) == 1 else "those are not among them"
    return (
        f"`{answer}` reaches {uses}{more}. {allowlist.rule}, and {which}, so the tests that use `{answer}` "
        "cannot pass: write that step with the listed operations."
    )


def forging_message(answer: str, found: list[str]) -> str:
    """What the student reads on each test of `answer` when its reach holds a forging construct."""
    listed = "; ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    return (
        f"`{answer}` reaches code that reads or changes the grading process itself: it {listed}. A check's "
        f"result could depend on it, so the tests that use `{answer}` cannot be graded. Code written for "
        "this notebook never needs it: remove it and submit again."
    )
