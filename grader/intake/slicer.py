"""The intake rule: which top-level statements of a submission are run to get its answers.

A submission is a notebook dump whose top level may train for an hour, mount Google Drive, download
data or plot. We never run it top to bottom. We keep:

1. Imports. One that fails at load binds a placeholder that raises a clear error only if it is used,
   so `import mingpt` or `from google.colab import drive` costs nothing unless an answer needs it.
2. Function and class definitions (with their decorators), in file order, so that the last
   definition of a name wins, as it did in the notebook.
3. The backward slice of the section's answer names, from the end of the file:
   - an answer, and every global name that a needed function or class reads, is needed at the end;
   - walking backwards, a statement that binds a needed name is kept; a plain assignment
     (`key = …`) ends the need for earlier bindings of that name, and the names it reads become
     needed;
   - a statement that updates a needed name in place is kept and earlier bindings stay needed:
     augmented assignment (`key /= …`), item or attribute assignment (`key[2] = …`), a call of an
     in-place method (`key.round_(…)`: PyTorch's trailing underscore, or a list/dict/set mutator);
   - a compound statement (for, while, if, with, try) is one unit, kept whole when it binds or
     updates a needed name anywhere inside;
   - randomness: once a kept statement draws random numbers, earlier statements that also draw
     them are kept back to the nearest seeding call (`torch.manual_seed(447)`, `random.seed`,
     `np.random.seed`, `set_seed`), which is kept too, so the kept code makes the same values.
4. Everything else is dropped: training loops, `main()` calls, Drive mounts, downloads, plots, prints.

Legacy names: the 2024 notebooks answered both 1.4 questions in one variable, `m_key`. When a file
defines neither `key141` nor `key142`, the statements from the first top-level `m_key = …` up to the
second use `key141` for it, and the statements from the second on use `key142`.
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass, field

MUTATING_METHODS = {
    "append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "add",
    "discard", "sort", "reverse", "popitem",
}  # fmt: skip
SEEDING_CALLS = {"manual_seed", "manual_seed_all", "seed", "set_seed", "seed_everything"}
RANDOM_CALL = re.compile(
    r"^(rand|randn|randint|randperm|rand_like|randn_like|randint_like|normal|normal_|uniform|uniform_|"
    r"bernoulli|multinomial|shuffle|choice|choices|sample|random|permutation|dropout|"
    r"xavier_\w+|kaiming_\w+|trunc_normal_|orthogonal_|"
    r"Linear|Bilinear|Embedding|Conv\w*|LSTM|GRU|RNN|Transformer\w*|MultiheadAttention)$"
)
LEGACY_NAME = "m_key"
LEGACY_ANSWERS = ("key141", "key142")


@dataclass(frozen=True)
class Unit:
    """One kept top-level statement: its first line and its exact source text."""

    lineno: int
    source: str
    binds: tuple[str, ...]
    kind: str  # "import", "definition" or "statement"


@dataclass
class Sliced:
    """The kept statements of a file, in order, and what the rule dropped."""

    units: list[Unit]
    dropped_lines: list[int]
    tree: ast.Module
    text: str
    renamed_legacy: bool = False
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript | ast.Attribute | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _walk_local(node: ast.AST):
    """Walk a statement without descending into nested function, lambda or class bodies."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if current is not node and isinstance(
                current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
            ):
                continue
            stack.append(child)


def _binds(stmt: ast.stmt) -> set[str]:
    names: set[str] = set()
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    for node in _walk_local(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node is not stmt:
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _kills(stmt: ast.stmt) -> set[str]:
    """Names a statement certainly rebinds (so earlier bindings no longer matter)."""
    if isinstance(stmt, ast.Assign):
        return {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
        return {stmt.target.id}
    if isinstance(stmt, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return _binds(stmt)
    return set()


def _updates(stmt: ast.stmt) -> set[str]:
    names: set[str] = set()
    for node in _walk_local(stmt):
        if isinstance(node, ast.AugAssign):
            base = _base_name(node.target)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript | ast.Attribute):
                    base = _base_name(target)
                    if base:
                        names.add(base)
            continue
        elif isinstance(node, ast.Delete):
            names.update(filter(None, (_base_name(t) for t in node.targets if not isinstance(t, ast.Name))))
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if not isinstance(func, ast.Attribute):
                continue
            method = func.attr
            in_place = (method.endswith("_") and not method.startswith("__")) or method in MUTATING_METHODS
            base = _base_name(func.value) if in_place else None
        else:
            continue
        if base:
            names.add(base)
    return names


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _calls(node: ast.AST) -> set[str]:
    return {name for n in ast.walk(node) if isinstance(n, ast.Call) and (name := _call_name(n))}


def _is_seeding(stmt: ast.stmt) -> bool:
    return bool(_calls(stmt) & SEEDING_CALLS) and not isinstance(
        stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    )


def _segment(lines: list[str], stmt: ast.stmt) -> tuple[int, str]:
    start, col = stmt.lineno, stmt.col_offset
    decorators = getattr(stmt, "decorator_list", [])
    if decorators:
        first = min(decorators, key=lambda d: (d.lineno, d.col_offset))
        start, col = first.lineno, lines[first.lineno - 1].rindex("@", 0, first.col_offset + 1)
    end, end_col = stmt.end_lineno or start, stmt.end_col_offset
    if start == end:
        return start, lines[start - 1][col:end_col]
    body = [lines[start - 1][col:], *lines[start : end - 1], lines[end - 1][:end_col]]
    return start, "\n".join(body)


def _global_reads(source: str) -> set[str]:
    """Global names a function or class definition reads when called (via the symbol table)."""
    names: set[str] = set()

    def visit(table: symtable.SymbolTable, top: bool) -> None:
        for symbol in table.get_symbols():
            if top:
                continue
            if symbol.is_referenced() and (
                symbol.is_global() or (table.get_type() == "class" and not symbol.is_assigned())
            ):
                names.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)

    visit(symtable.symtable(source, "<definition>", "exec"), True)
    return names


def _rename_legacy(text: str, tree: ast.Module) -> tuple[str, bool]:
    bound = set().union(*(_binds(s) for s in tree.body)) if tree.body else set()
    if bound & set(LEGACY_ANSWERS) or LEGACY_NAME not in bound:
        return text, False
    starts = [
        index
        for index, stmt in enumerate(tree.body)
        if isinstance(stmt, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == LEGACY_NAME for t in stmt.targets)
    ]
    if not starts:
        return text, False
    lines = text.split("\n")
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for index, stmt in enumerate(tree.body):
        if index < starts[0]:
            continue
        new = LEGACY_ANSWERS[0] if len(starts) < 2 or index < starts[1] else LEGACY_ANSWERS[1]
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id == LEGACY_NAME:
                edits.setdefault(node.lineno, []).append((node.col_offset, node.end_col_offset or 0, new))
    for lineno, spans in edits.items():
        line = lines[lineno - 1]
        for start, end, new in sorted(spans, reverse=True):
            line = line[:start] + new + line[end:]
        lines[lineno - 1] = line
    return "\n".join(lines), True


def slice_source(text: str, answers: list[str] | tuple[str, ...], filename: str = "<submission>") -> Sliced:
    """Apply the intake rule to parseable source; raise SyntaxError if it does not parse."""
    tree = ast.parse(text, filename=filename)
    text, renamed = _rename_legacy(text, tree)
    if renamed:
        tree = ast.parse(text, filename=filename)
    lines = text.split("\n")
    body = tree.body

    definitions: dict[str, set[str]] = {}
    random_defs: set[str] = set()
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            _, source = _segment(lines, stmt)
            definitions.setdefault(stmt.name, set()).update(_global_reads(source))
            if any(RANDOM_CALL.match(name) for name in _calls(stmt)):
                random_defs.add(stmt.name)
            if not isinstance(stmt, ast.ClassDef):
                functions[stmt.name] = stmt

    def expand(names: set[str]) -> set[str]:
        result, frontier = set(names), list(names)
        while frontier:
            for name in definitions.get(frontier.pop(), ()):
                if name not in result:
                    result.add(name)
                    frontier.append(name)
        return result

    def draws_random(stmt: ast.stmt) -> bool:
        called = _calls(stmt)
        return any(RANDOM_CALL.match(name) for name in called) or bool(called & random_defs)

    needed = expand(set(answers))
    keep = [False] * len(body)
    random_pending = False
    for index in range(len(body) - 1, -1, -1):
        stmt = body[index]
        if isinstance(
            stmt, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            keep[index] = True
            needed -= _kills(stmt)
            continue
        relevant = (_binds(stmt) | _updates(stmt)) & needed
        if relevant:
            keep[index] = True
            needed = (needed - _kills(stmt)) | expand(_reads(stmt))
            random_pending = random_pending or draws_random(stmt)
        elif random_pending and _is_seeding(stmt):
            keep[index] = True
            needed |= expand(_reads(stmt))
            random_pending = False
        elif random_pending and draws_random(stmt):
            keep[index] = True
            needed |= expand(_reads(stmt))

    units, dropped = [], []
    for stmt, kept in zip(body, keep, strict=True):
        if not kept:
            dropped.append(stmt.lineno)
            continue
        lineno, source = _segment(lines, stmt)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            kind = "import"
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind = "definition"
        else:
            kind = "statement"
        units.append(Unit(lineno, source, tuple(sorted(_binds(stmt))), kind))
    return Sliced(units, dropped, tree, text, renamed, functions)
