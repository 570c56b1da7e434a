"""The intake rule: which top-level statements of a submission are run to get its answers.

A submission is a notebook dump whose top level may train for an hour, mount Google Drive, download
data or plot. We never run it top to bottom. We keep:

1. Imports. One that fails at load binds a placeholder that raises a clear error only if it is used,
   so `import mingpt` or `from google.colab import drive` costs nothing unless an answer needs it.
2. Function and class definitions (with their decorators), in file order, so that the last
   definition of a name wins, as it did in the notebook. What a needed definition reads when it is
   defined (decorators, default values, annotations, base classes, class bodies) is needed at that
   point: `def attn_softmax(A, dim=LAST_DIM)` keeps the `LAST_DIM = -1` above it.
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
4. Only the graded part of the notebook counts (sections.py says where it ends); imports below it
   are kept when they rebind nothing above it.
5. Everything else is dropped: training loops, `main()` calls, Drive mounts, downloads, plots, prints.

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
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
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
    #: Names the kept code reads that nothing in the file binds (builtins, or a cell left out).
    unbound: frozenset[str] = frozenset()


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


def binds(stmt: ast.stmt) -> set[str]:
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
        return binds(stmt)
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


def char_col(line: str, byte_col: int) -> int:
    """`ast` gives columns in UTF-8 bytes; a string index needs characters (`‖k₂‖` is 3 + 3 + 1 + 3 bytes)."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _segment(lines: list[str], stmt: ast.stmt) -> tuple[int, str]:
    start, col = stmt.lineno, char_col(lines[stmt.lineno - 1], stmt.col_offset)
    decorators = getattr(stmt, "decorator_list", [])
    if decorators:
        first = min(decorators, key=lambda d: (d.lineno, d.col_offset))
        line = lines[first.lineno - 1]
        start, col = first.lineno, line.rindex("@", 0, char_col(line, first.col_offset) + 1)
    end = stmt.end_lineno or start
    end_col = char_col(lines[end - 1], stmt.end_col_offset or 0)
    if start == end:
        return start, lines[start - 1][col:end_col]
    body = [lines[start - 1][col:], *lines[start : end - 1], lines[end - 1][:end_col]]
    return start, "\n".join(body)


def _definition_reads(source: str, name: str) -> tuple[set[str], set[str]]:
    """Global names a definition reads (at definition time, when called), from the symbol table.

    At definition time Python evaluates decorators, default values, annotations (without
    `from __future__ import annotations`), base classes and class bodies; the body of a function
    runs only when it is called. A definition the symbol table rejects (a duplicate argument) reads
    nothing here: the student's process reports its error when it loads it.
    """
    at_definition: set[str] = set()
    when_called: set[str] = set()

    def visit(table: symtable.SymbolTable, defining: bool) -> None:
        for symbol in table.get_symbols():
            if not symbol.is_referenced():
                continue
            if table.get_type() == "module":
                at_definition.add(symbol.get_name())
            elif table.get_type() == "class" and not symbol.is_assigned():
                (at_definition if defining else when_called).add(symbol.get_name())
            elif symbol.is_global():
                when_called.add(symbol.get_name())
        for child in table.get_children():
            visit(child, defining and child.get_type() == "class")

    try:
        visit(symtable.symtable(source, "<definition>", "exec"), True)
    except (SyntaxError, RecursionError, MemoryError):
        return set(), set()
    return at_definition - {name}, when_called


def _rename_legacy(text: str, tree: ast.Module) -> tuple[str, bool]:
    bound = set().union(*(binds(s) for s in tree.body)) if tree.body else set()
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
                line = lines[node.lineno - 1]
                span = (char_col(line, node.col_offset), char_col(line, node.end_col_offset or 0), new)
                edits.setdefault(node.lineno, []).append(span)
    for lineno, spans in edits.items():
        line = lines[lineno - 1]
        for start, end, new in sorted(spans, reverse=True):
            line = line[:start] + new + line[end:]
        lines[lineno - 1] = line
    return "\n".join(lines), True


@dataclass
class _Definitions:
    """What each top-level definition of a file reads, and which ones draw random numbers."""

    at_definition: dict[int, set[str]] = field(default_factory=dict)
    when_called: dict[str, set[str]] = field(default_factory=dict)
    random: set[str] = field(default_factory=set)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)

    @classmethod
    def of(cls, body: list[ast.stmt], lines: list[str]) -> _Definitions:
        found = cls()
        for index, stmt in enumerate(body):
            if not isinstance(stmt, DEFINITIONS):
                continue
            at_definition, when_called = _definition_reads(_segment(lines, stmt)[1], stmt.name)
            found.at_definition[index] = at_definition
            found.when_called.setdefault(stmt.name, set()).update(when_called)
            if any(RANDOM_CALL.match(name) for name in _calls(stmt)):
                found.random.add(stmt.name)
            if not isinstance(stmt, ast.ClassDef):
                found.functions[stmt.name] = stmt
        return found

    def expand(self, names: set[str]) -> set[str]:
        """`names` and every global that the functions and classes among them read, transitively."""
        result, frontier = set(names), list(names)
        while frontier:
            for name in self.when_called.get(frontier.pop(), ()):
                if name not in result:
                    result.add(name)
                    frontier.append(name)
        return result

    def draws_random(self, stmt: ast.stmt) -> bool:
        called = _calls(stmt)
        return any(RANDOM_CALL.match(name) for name in called) or bool(called & self.random)


@dataclass
class _Walk:
    """The backward walk of rule 3: what is still needed, and whether random draws must be replayed."""

    definitions: _Definitions
    needed: set[str]
    random_pending: bool = False

    def keeps(self, index: int, stmt: ast.stmt) -> bool:
        if isinstance(stmt, DEFINITIONS):
            if stmt.name in self.needed:
                self.needed = (self.needed - {stmt.name}) | self.definitions.expand(
                    self.definitions.at_definition[index]
                )
            return True
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self.needed -= _kills(stmt)
            return True
        if (binds(stmt) | _updates(stmt)) & self.needed:
            self.needed = (self.needed - _kills(stmt)) | self.definitions.expand(_reads(stmt))
            self.random_pending = self.random_pending or self.definitions.draws_random(stmt)
            return True
        if self.random_pending and (_is_seeding(stmt) or self.definitions.draws_random(stmt)):
            self.needed |= self.definitions.expand(_reads(stmt))
            self.random_pending = not _is_seeding(stmt)
            return True
        return False


def graded_body(body: list[ast.stmt], until: int | None) -> list[ast.stmt]:
    """The statements before line `until` (the end of the graded part; see sections.py).

    Imports further down are kept when they bind nothing the graded part binds: an import costs
    nothing, and a later cell's `import math` must not decide whether a helper loads.
    """
    if until is None:
        return body
    graded = [stmt for stmt in body if stmt.lineno < until]
    bound = set().union(*(binds(stmt) for stmt in graded))
    later_imports = [
        stmt
        for stmt in body
        if stmt.lineno >= until and isinstance(stmt, ast.Import | ast.ImportFrom) and not binds(stmt) & bound
    ]
    return graded + later_imports


def _kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return "import"
    return "definition" if isinstance(stmt, DEFINITIONS) else "statement"


def slice_source(
    text: str,
    answers: list[str] | tuple[str, ...],
    filename: str = "<submission>",
    tree: ast.Module | None = None,
    until: int | None = None,
) -> Sliced:
    """Apply the intake rule to parseable source (already parsed as `tree`, if given).

    `until` is the first line that no longer belongs to the graded part of the notebook.
    Raises SyntaxError if `text` is given without a tree and does not parse.
    """
    tree = tree or ast.parse(text, filename=filename)
    text, renamed = _rename_legacy(text, tree)
    if renamed:
        tree = ast.parse(text, filename=filename)
    lines = text.split("\n")
    body = graded_body(tree.body, until)
    definitions = _Definitions.of(body, lines)
    walk = _Walk(definitions, definitions.expand(set(answers)))
    keep = [walk.keeps(index, body[index]) for index in range(len(body) - 1, -1, -1)][::-1]
    units = [
        Unit(*_segment(lines, stmt), tuple(sorted(binds(stmt))), _kind(stmt))
        for stmt, kept in zip(body, keep, strict=True)
        if kept
    ]
    kept_ids = {id(stmt) for stmt, kept in zip(body, keep, strict=True) if kept}
    dropped = [stmt.lineno for stmt in tree.body if id(stmt) not in kept_ids]
    return Sliced(units, dropped, tree, text, renamed, definitions.functions, frozenset(walk.needed))
