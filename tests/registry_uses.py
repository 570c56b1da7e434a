"""What the graded checks ask of the registries, read from their code: the answers they read and the
drivers they run (tests/test_registries.py checks them).

A check reaches a registry through a *sink*: ``section.get(name)``, ``section.call(name, ...)`` and
``section.call_detailed(name, ...)`` need ``name`` among the section's answers in the table;
``section.run(target, ..., uses=(...))`` needs an existing driver (shipped to students when the test is
public) and ``uses`` among the answers. Sinks are found in every function of the checks and of a2/sections/,
and followed upward: when a function passes its own parameter to a sink, each call of that function becomes
a use with the caller's argument in its place, until every value is known (a literal, a module constant, an
expression of these) at a graded test, whose fixtures name the sections. A value that cannot be known this
way is reported too: the registries can only be checked for values that can be read.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import itertools
import symtable
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from check_files import import_check

REPO = Path(__file__).resolve().parent.parent
#: StudentSection's methods and the parameter of each that names a student's answer or a driver.
SECTION_SINKS = {"get": "name", "call": "name", "call_detailed": "name", "run": "target"}
#: How deep calls are followed upward before a use is reported as one that cannot be followed.
MAX_DEPTH = 12
#: Stands for a local whose value cannot be read, once a use leaves the function that holds it.
UNKNOWN = "__unknown__"


@dataclass(frozen=True)
class Use:
    """One registry lookup a check makes: its kind ("answer" or "driver"), the expressions
    still to be known (``section``, ``name``, ``uses``), values frozen from other modules, and where."""

    kind: str
    holes: dict[str, ast.expr]
    where: str
    frozen: dict[str, Any] = field(default_factory=dict)
    depth: int = 0


@dataclass(frozen=True)
class Resolved:
    """A use whose values are all known: the section (for answers and drivers) and the graded test."""

    kind: str
    values: dict[str, Any]
    where: str
    test: str | None


@dataclass
class Function:
    """A top-level function of an analysed module, with its single-assignment locals."""

    obj: Callable[..., Any]
    node: ast.FunctionDef
    module: ModuleType
    path: Path
    graded: str | None
    assigned: dict[str, ast.expr]
    params: set[str]
    calls: list[tuple[Function, ast.Call]] = field(default_factory=list)


@dataclass
class Analysis:
    """Every resolved use, and every use that could not be followed (with the reason)."""

    resolved: list[Resolved] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def load_modules(check_files: list[Path]) -> list[tuple[ModuleType, Path]]:
    """The check files (imported from their paths, as the grader does) and every module of
    a2/sections/ but the drivers (which run in the child and call no sink)."""
    modules = [(import_check(path), path) for path in check_files]
    for path in sorted((REPO / "a2" / "sections").rglob("*.py")):
        if "drivers" not in path.parts:
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            modules.append((importlib.import_module(name), path))
    return modules


def analyse(check_files: list[Path], fixtures: dict[str, int]) -> Analysis:
    """Every registry use of the checks in ``check_files``; ``fixtures`` maps fixture names to sections."""
    functions = _functions(load_modules(check_files))
    by_object = {id(function.obj): function for function in functions}
    for function in functions:
        for call in _calls(function.node):
            callee = by_object.get(id(_evaluate_callee(call.func, function.module)))
            if callee is not None:
                callee.calls.append((function, call))
    analysis = Analysis()
    pending = [(function, use) for function in functions for use in _sinks(function)]
    while pending:
        function, use = pending.pop()
        pending += _resolve(function, use, fixtures, analysis)
    return analysis


def _functions(modules: list[tuple[ModuleType, Path]]) -> list[Function]:
    found = []
    for module, path in modules:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                obj = getattr(module, node.name)
                marks = [mark for mark in getattr(obj, "pytestmark", []) if mark.name == "graded"]
                params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
                graded = str(marks[0].args[0]) if marks else None
                found.append(Function(obj, node, module, path, graded, _single_assignments(node), params))
    return found


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    return (sub for sub in ast.walk(node) if isinstance(sub, ast.Call))


def _single_assignments(node: ast.FunctionDef) -> dict[str, ast.expr]:
    """Locals bound exactly once, by a plain ``name = value``: their value stands for them."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            counts[sub.id] = counts.get(sub.id, 0) + 1
        if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
            values[sub.targets[0].id] = sub.value
    return {name: value for name, value in values.items() if counts[name] == 1}


def _evaluate_callee(func: ast.expr, module: ModuleType) -> Any:
    """The object a call's function names at module level (a name or a dotted attribute), or None."""
    path = func
    while isinstance(path, ast.Attribute):
        path = path.value
    if not isinstance(path, ast.Name) or path.id not in vars(module):
        return None
    try:
        return eval(compile(ast.Expression(body=func), "<callee>", "eval"), vars(module))
    except AttributeError:
        return None


def _argument(call: ast.Call, position: int | None, keyword: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return call.args[position] if position is not None and len(call.args) > position else None


def _sinks(function: Function) -> Iterator[Use]:
    path = function.path
    where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:"
    for call in _calls(function.node):
        func = call.func
        attribute = func.attr if isinstance(func, ast.Attribute) else None
        if attribute in SECTION_SINKS and isinstance(func.value, ast.Name):
            value = _argument(call, 0, SECTION_SINKS[attribute])
            if value is None:
                continue
            kind = "driver" if attribute == "run" else "answer"
            holes = {"section": func.value, "name": value}
            uses = _argument(call, None, "uses")
            if uses is not None:
                holes["uses"] = uses
            yield Use(kind, holes, f"{where}{call.lineno}")


def _free_names(expr: ast.expr) -> set[str]:
    """The names an expression reads from outside it (not those its own lambdas or comprehensions bind)."""
    tables = [symtable.symtable(f"lambda: ({ast.unparse(expr)})", "<hole>", "exec")]
    names: set[str] = set()
    while tables:
        table = tables.pop()
        names |= {symbol.get_name() for symbol in table.get_symbols() if symbol.is_global()}
        tables += table.get_children()
    return names


def _substitute(expr: ast.expr, values: dict[str, ast.expr]) -> ast.expr:
    class Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return _copy(values[node.id]) if node.id in values and isinstance(node.ctx, ast.Load) else node

    return Replace().visit(_copy(expr))


def _copy(expr: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(expr), mode="eval").body


def _inline_locals(function: Function, use: Use) -> Use:
    holes = dict(use.holes)
    for _ in range(MAX_DEPTH):
        locals_read = {
            name: function.assigned[name]
            for expr in holes.values()
            for name in _free_names(expr)
            if name in function.assigned and name not in function.params
        }
        if not locals_read:
            break
        holes = {key: _substitute(expr, locals_read) for key, expr in holes.items()}
    return replace(use, holes=holes)


def _resolve(function: Function, use: Use, fixtures: dict[str, int], analysis: Analysis) -> list:
    """Resolve ``use`` in ``function``: record it, report it, or pass it to the function's callers."""
    use = _inline_locals(function, use)
    in_test = function.graded is not None
    section = use.holes.get("section")
    section_known = section is None
    if section is not None:
        if not isinstance(section, ast.Name):
            return []  # a value's own method (a dict's get): not a student section
        section_known = in_test and section.id in fixtures
        if not section_known and section.id not in function.params:
            return []
    namespace = {**vars(builtins), **vars(function.module), **use.frozen}
    names = {name for expr in use.holes.values() for name in _free_names(expr)}
    passed = set() if in_test else names & function.params
    unknown = names - passed - namespace.keys() - (set(fixtures) if in_test else set())
    if unknown and section_known:
        analysis.unknown.append(f"{use.where}: {_shown(use)} cannot be read from the code")
        return []
    if passed:
        return _to_callers(function, use, namespace, unknown, analysis)
    values = {key: _evaluate(expr, namespace, fixtures) for key, expr in use.holes.items()}
    analysis.resolved.append(Resolved(use.kind, values, use.where, function.graded))
    return []


def _evaluate(expr: ast.expr, namespace: dict[str, Any], fixtures: dict[str, int]) -> Any:
    if isinstance(expr, ast.Name) and expr.id in fixtures:
        return fixtures[expr.id]
    return eval(compile(ast.Expression(body=expr), "<hole>", "eval"), namespace)


def _to_callers(
    function: Function, use: Use, namespace: dict[str, Any], unknown: set[str], analysis: Analysis
) -> list:
    """The use once for each call of ``function``, its parameters replaced by the call's arguments.

    What the function's own module gives (constants, imported objects) goes along under names no
    caller uses; a local that cannot be read goes along as one that no caller can read either.
    """
    if use.depth >= MAX_DEPTH:
        analysis.unknown.append(f"{use.where}: {_shown(use)} passes through too many calls")
        return []
    names = {name for expr in use.holes.values() for name in _free_names(expr)} - function.params
    renamed: dict[str, ast.expr] = {name: ast.Name(id=UNKNOWN, ctx=ast.Load()) for name in unknown}
    frozen = dict(use.frozen)
    for name in sorted(names - unknown):
        key = f"__frozen_{len(frozen)}"
        frozen[key] = namespace[name]
        renamed[name] = ast.Name(id=key, ctx=ast.Load())
    holes = {key: _substitute(expr, renamed) for key, expr in use.holes.items()}
    signature = inspect.signature(function.obj)
    upward = []
    for caller, call in function.calls:
        positional = list(itertools.takewhile(lambda arg: not isinstance(arg, ast.Starred), call.args))
        named = {item.arg: item.value for item in call.keywords if item.arg}
        try:
            arguments = signature.bind_partial(*positional, **named).arguments
        except TypeError:
            arguments = {}
        needed = {name for expr in holes.values() for name in _free_names(expr)} & function.params
        if not needed <= arguments.keys():
            analysis.unknown.append(
                f"{use.where}: the call at {caller.path.name}:{call.lineno} cannot be followed"
            )
            continue
        moved = {key: _substitute(expr, dict(arguments)) for key, expr in holes.items()}
        upward.append((caller, replace(use, holes=moved, frozen=frozen, depth=use.depth + 1)))
    return upward


def _shown(use: Use) -> str:
    return f"the {use.kind} `{ast.unparse(use.holes['name'])}`"
