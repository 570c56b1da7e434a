"""Rules about *how* an answer is computed, applied to what that answer reaches and to nothing else.

An answer's reach (grader/intake/slicer.py) is the code it depends on: its body, the student's
functions and classes it calls, the globals they read and the top-level statements that build them.
Code that no answer reaches (experiments, `main()`, print helpers, plots) never runs while grading and
is never judged here: it can cost no point, and staff see it only as a note (grader/integrity.py).

Two rules read a reach:

- **An allowlist**, for a section that declares one (its table's `allowlist`, a from-scratch rule that names
  the operations its answers may use). Every name and attribute in the reach must resolve, by reading the
  code, to the student's own code in the reach, a listed operation of a listed module, a listed attribute of a
  value, or a listed builtin. Anything else is refused, whatever its name: an allowlist closes the routes a
  list of forbidden names cannot enumerate (another library's attention, a resolver, a thread, an importer).
  Names read with a computed name (`getattr(x, name)`), dunder attributes, async code, assignments to a
  module's attributes and star imports cannot be resolved by reading, so they are refused too.
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
#: Dunder names that only say what code is called (harmless: `fn.__name__` in a debug print, a
#: decorator copying it onto its wrapper).
PLAIN_DUNDERS = frozenset({"__name__", "__doc__", "__qualname__"})
#: Builtins the reach may only call by name: passed around as values (`look = getattr`), they would
#: read names no reading can see; `type` only with one argument (three make a class).
DIRECT_CALLS_ONLY = frozenset({"getattr", "hasattr", "type"})
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


def _owners(statements: list[ast.stmt]) -> set[str]:
    """Names that hold the student's own objects: their classes, the first parameter of their classes'
    methods (`self`, `cls`), and names bound to an instance (`scaler = Scaler(...)`)."""
    classes = {node.name for node in _nodes(statements) if isinstance(node, ast.ClassDef)}
    owners = set(classes)
    for node in _nodes(statements):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.args.args:
                    owners.add(item.args.args[0].arg)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if isinstance(node.value.func, ast.Name) and node.value.func.id in classes:
                owners.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return owners


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
        self.owners = _owners(statements)
        self.read_names = {
            n.id for n in _nodes(statements) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        self.parents = {
            id(child): parent for parent in _nodes(statements) for child in ast.iter_child_nodes(parent)
        }
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
        if node.id in DIRECT_CALLS_ONLY:
            return (
                VALUE
                if self.called_directly(node)
                else self.refuse(f"{node.id} used other than called", node)
            )
        if node.id in self.allowlist.builtins or node.id in PLAIN_DUNDERS:
            return VALUE
        if node.id in PYTHON_BUILTINS or _dunder(node.id):
            return self.refuse(node.id, node)
        return VALUE  # bound nowhere: a NameError when it runs, not a rule

    def called_directly(self, node: ast.Name) -> bool:
        """Whether `node` is the function of a call (`type` only with one argument: with three it makes
        a class, which reading cannot follow)."""
        call = self.parents.get(id(node))
        if not (isinstance(call, ast.Call) and call.func is node):
            return False
        return node.id != "type" or (len(call.args) == 1 and not call.keywords)

    def module_as_value(self, node: ast.AST) -> bool:
        """Whether a module is used other than to name something in it (`[torch][0]`, `match torch`,
        `f(np)`): its attributes could then be reached under any name."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return False
        if (
            isinstance(parent, ast.Call)
            and parent.args
            and parent.args[0] is node
            and _constant_getattr(parent)
        ):
            return False
        return not (isinstance(parent, ast.Assign) and parent.value is node and len(parent.targets) == 1)

    def owned(self, node: ast.AST) -> bool:
        """Whether an attribute's receiver is one of the student's own objects (`self.scale`, an instance
        of a class of theirs), on which the attribute names their code gives count."""
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        if isinstance(node, ast.Call):
            return _is_super_call(node) or (isinstance(node.func, ast.Name) and node.func.id in self.owners)
        return isinstance(node, ast.Name) and node.id in self.owners

    def attribute(self, node: ast.Attribute) -> _Kind:
        base = self.kind(node.value)
        if isinstance(base, _Refused):
            return REFUSED
        plain = node.attr in PLAIN_DUNDERS
        if _dunder(node.attr) and not plain and not (node.attr == "__init__" and _is_super_call(node.value)):
            return self.refuse(f"{_written(node.value)}.{node.attr}", node)
        if isinstance(base, _Module):
            if isinstance(node.ctx, ast.Store | ast.Del):
                return self.refuse(f"assigning {base.name}.{node.attr}", node)
            return self.qualified(f"{base.name}.{node.attr}", node)
        return self.value_attribute(node.value, node.attr, node, base)

    def value_attribute(self, receiver: ast.AST, attribute: str, node: ast.AST, base: _Kind = VALUE) -> _Kind:
        """An attribute of a value: a listed one, or one the student's code gives its own objects."""
        if attribute in self.allowlist.value_attributes or attribute in PLAIN_DUNDERS:
            return VALUE
        if attribute in self.attributes and self.owned(receiver):
            return VALUE
        owner = base.name if isinstance(base, _Member) else _written(receiver)
        return self.refuse(f"{owner}.{attribute}", node)

    def call(self, node: ast.Call) -> _Kind:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and node.func.id not in self.names
        ):
            if not _constant_getattr(node):
                return self.refuse(f"{node.func.id} with a computed name", node)
            assert isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
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
        """What a statement itself may not do: import an unlisted module it uses, run async code,
        define a class on an unlisted base or one of Python's hooks, match a pattern on attributes."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) in self.read_names:
                    self.qualified(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            self.import_from(node)
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            self.refuse("async code", node, "async")
        elif isinstance(node, ast.ClassDef):
            self.class_definition(node)
        elif isinstance(node, ast.MatchClass):
            for attribute in node.kwd_attrs:
                self.value_attribute(node.cls, attribute, node)

    def import_from(self, node: ast.ImportFrom) -> None:
        """Only the names of an import that the reach uses are judged (`from torch import nn, optim`
        in a function that uses nn only); a star import binds names no reading can know."""
        if node.level or not node.module:
            self.refuse("a relative import", node)
            return
        for alias in node.names:
            if alias.name == "*":
                self.refuse(f"everything from {node.module}", node, f"from {node.module} import *")
            elif (alias.asname or alias.name) in self.read_names:
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
                kind = self.kind(node)
                if isinstance(kind, _Module) and self.module_as_value(node):
                    self.refuse(f"the module {kind.name} used as a value", node)
        return sorted(self.found.values(), key=lambda v: (v.line, v.what))


def _constant_getattr(call: ast.Call) -> bool:
    """`getattr(x, "name")` or `hasattr(x, "name")`: a name reading can see."""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id in ("getattr", "hasattr")
        and len(call.args) >= 2
        and isinstance(call.args[1], ast.Constant)
        and isinstance(call.args[1].value, str)
    )


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def allowlist_violations(statements: list[ast.stmt], allowlist: Allowlist) -> list[Violation]:
    """What the reach `statements` uses that `allowlist` does not list, by line."""
    return _AllowlistReading(statements, allowlist).read(statements)


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
