"""The intake rule: which top-level statements of a submission run, and what each answer reaches.

A submission is a notebook dump whose top level may train for an hour, mount Google Drive, download
data or plot. We never run it top to bottom. For each answer of the section (a name the checks read:
`query`, `softmax`, `MyDataset` …) we compute its **reach**: the top-level statements it
depends on. The student's process runs the union of the answers' reaches and nothing else; the rules
about *how* an answer is computed (grader/reach_rules.py) read the reach of that answer and nothing
else, so code no answer reaches (experiments, `main()`, print helpers, plots) can neither run while
grading nor cost a point.

The reach of a set of names is the backward slice of them, from the end of the graded part:

1. A function or class definition is reached when its name is needed; the globals its body reads
   (when called) are then needed at the end, and what it reads when it is defined (decorators,
   default values, annotations, base classes, class bodies) is needed at that point:
   `def softmax(A, dim=LAST_DIM)` reaches the `LAST_DIM = -1` above it. The last definition of
   a name wins, as it did when the notebook's cells ran top to bottom.
2. An import is reached when it binds a needed name; a star import (`from m import *`), which may
   bind any name, is always reached. One that fails in the student's process binds a stand-in for
   each name that failed (only those), which raises a clear error when it is used.
3. Walking backwards, a statement that binds a needed name is reached; a plain assignment
   (`key = …`) ends the need for earlier bindings of that name, and the names it reads become needed.
4. A statement that updates a needed name in place is reached, and earlier bindings stay needed:
   augmented assignment (`key /= …`), item or attribute assignment (`key[2] = …`), a call of an
   in-place method (`key.round_(…)`: PyTorch's trailing underscore, or a list/dict/set mutator).
5. Optimisation through objects: a tensor made to require gradients (`requires_grad=True`,
   `nn.Parameter(…)`, `q.requires_grad_()`) and passed to the call that builds an object
   (`opt = Adam([q])`), stored in a list, tuple or dict (`params = [q]`), or assigned as is, is held
   by that object. A statement that steps it (`opt.step()`, `opt.zero_grad()`), backpropagates
   through an expression that reads or holds it (`loss.backward()`), or updates a holder in place,
   updates the tensor: the optimisation loop that finds `q` is reached. Nothing else flows through
   objects, so a top-level training loop never reaches a model name, a device or a tokenizer that an
   answer reads.
6. A compound statement (for, while, if, with, try) is one unit, reached whole when it binds or
   updates a needed name anywhere inside.
7. Randomness: once a reached statement draws random numbers, earlier statements that also draw
   them are reached back to the nearest seeding call (`torch.manual_seed(447)`, `random.seed`,
   `np.random.seed`, `set_seed`), which is reached too, so the kept code makes the same values.
8. Only the graded part of the notebook counts (sections.py says where it ends); imports below it
   are considered when they rebind nothing above it.

Limits, each a place where the rule reads less than Python does: a name bound through `globals()`,
`exec` or `setattr(module, …)` is not seen; a holder reached only through another function's local
variables is not followed; a statement whose effect on an answer goes through the file system (write
a file, read it back) is not reached. The student's code is then graded as if that statement had not
run, and the checks' messages name what the answer's value was.

Legacy names: a section may declare one (its table's `legacy`), for an older version of its notebook
that answered several questions in one variable: the old name, and the answers it stands for, in order
(`("w", ("w1", "w2"))`: the old notebook set `w` for one question, then set it again for the next).
When a file defines none of those answers, the statements from the first top-level `w = …` up to the
second use `w1` for it, and the statements from the second on use `w2` (with more answers, each
further `w = …` starts the next one; assignments past the last answer keep the last name).
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass, field

from grader.intake.limits import on_time

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
#: A legacy name and the answers it stands for, in order (the module's docstring).
Legacy = tuple[str, tuple[str, ...]]


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
    #: The kept statements' trees, in the order of `units`.
    statements: list[ast.stmt] = field(default_factory=list)
    #: Each answer's reach: the positions in `units` of the statements it depends on.
    reach: dict[str, frozenset[int]] = field(default_factory=dict)

    def reached_by(self, names: tuple[str, ...] | list[str]) -> list[ast.stmt]:
        """The kept statements that any of `names` reaches, in file order."""
        positions = sorted(set().union(*(self.reach.get(name, frozenset()) for name in names)))
        return [self.statements[position] for position in positions]


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
            base = _base_name(func.value) if _in_place(func.attr) else None
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

    At definition time Python runs decorators, default values, annotations (without
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


def _rename_legacy(text: str, tree: ast.Module, legacy: Legacy | None) -> tuple[str, bool]:
    if legacy is None or not legacy[1]:
        return text, False
    old, answers = legacy
    bound = set().union(*(binds(s) for s in tree.body)) if tree.body else set()
    if bound & set(answers) or old not in bound:
        return text, False
    starts = [
        index
        for index, stmt in enumerate(tree.body)
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == old for t in stmt.targets)
    ]
    if not starts:
        return text, False
    lines = text.split("\n")
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for index, stmt in enumerate(tree.body):
        if index < starts[0]:
            continue
        new = answers[min(sum(start <= index for start in starts), len(answers)) - 1]
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id == old:
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
            on_time()
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
            on_time()
            for name in self.when_called.get(frontier.pop(), ()):
                if name not in result:
                    result.add(name)
                    frontier.append(name)
        return result

    def draws_random(self, stmt: ast.stmt) -> bool:
        called = _calls(stmt)
        return any(RANDOM_CALL.match(name) for name in called) or bool(called & self.random)


def _kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return "import"
    return "definition" if isinstance(stmt, DEFINITIONS) else "statement"


#: Calls through which an object changes what it holds: an optimiser's step, a loss's backward pass.
HOLDER_STEPS = {"step", "zero_grad", "backward"}


def _in_place(method: str) -> bool:
    return (method.endswith("_") and not method.startswith("__")) or method in MUTATING_METHODS


def _value_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _held_by(value: ast.AST) -> set[str]:
    """The names whose values an object made by the expression `value` holds (rule 5)."""
    if isinstance(value, ast.Call):
        receiver = [value.func.value] if isinstance(value.func, ast.Attribute) else []
        parts = [*receiver, *value.args, *(keyword.value for keyword in value.keywords)]
    elif isinstance(value, ast.List | ast.Tuple | ast.Set):
        parts = list(value.elts)
    elif isinstance(value, ast.Dict):
        parts = [part for part in value.values if part is not None]
    elif isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Starred):
        base = _base_name(value)
        return {base} if base else set()
    else:
        return set()
    return set().union(*(_value_names(part) for part in parts)) if parts else set()


def _direct_holdings(stmt: ast.stmt, opaque: set[str], direct: dict[str, set[str]]) -> None:
    """Add to `direct` what the objects a statement binds or fills hold (rule 5)."""

    def hold(target: ast.AST, names: set[str]) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                direct.setdefault(node.id, set()).update(names - opaque - {node.id})

    for node in _walk_local(stmt):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                hold(target, _held_by(node.value))
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            hold(node.target, _held_by(node.value))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            hold(node.target, _held_by(node.iter))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = _base_name(node.func.value)
            if base and base not in opaque and node.func.attr in MUTATING_METHODS:
                direct.setdefault(base, set()).update(_held_by(node) - opaque - {base})


def _holders(body: list[ast.stmt], opaque: set[str], trainable: set[str]) -> dict[str, set[str]]:
    """For each name bound to an object, the `trainable` names whose values it may hold, transitively
    (rule 5). Walked back from each trainable name, so a file without one costs nothing here.

    `opaque` names (definitions and imports) are never held: passing a class, a function or a module
    to a call does not put its state in the object made.
    """
    direct: dict[str, set[str]] = {}
    for stmt in body:
        on_time()
        _direct_holdings(stmt, opaque, direct)
    holding: dict[str, set[str]] = {}
    for holder, held in direct.items():
        for name in held:
            holding.setdefault(name, set()).add(holder)
    found: dict[str, set[str]] = {}
    for name in trainable:
        seen, frontier = set(), [name]
        while frontier:
            on_time()
            for holder in holding.get(frontier.pop(), ()):
                if holder not in seen:
                    seen.add(holder)
                    frontier.append(holder)
        for holder in seen - {name}:
            found.setdefault(holder, set()).add(name)
    return found


def _trainable(body: list[ast.stmt]) -> set[str]:
    """Names bound to a tensor that requires gradients: `torch.zeros(3, requires_grad=True)`,
    `nn.Parameter(…)`, or a later `q.requires_grad_()` / `q.requires_grad = True` (rule 5)."""
    names: set[str] = set()
    for stmt in body:
        on_time()
        for node in _walk_local(stmt):
            if isinstance(node, ast.Assign) and _makes_trainable(node.value):
                names |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in node.targets
            ):
                names |= {base for t in node.targets if (base := _base_name(t))}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "requires_grad_" and (base := _base_name(node.func.value)):
                    names.add(base)
    return names


def _makes_trainable(value: ast.AST) -> bool:
    for node in ast.walk(value):
        if not isinstance(node, ast.Call):
            continue
        if _call_name(node) in ("Parameter", "requires_grad_") or any(
            k.arg == "requires_grad" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        ):
            return True
    return False


def _updated_through(stmt: ast.stmt, holders: dict[str, set[str]], trainable: set[str]) -> set[str]:
    """Trainable names a statement updates through an object or an expression (rule 5): a step of
    an object holding them (`opt.step()`), a backward pass through an expression that reads them or
    holds them (`loss.backward()`, `(attention(q) - target).norm().backward()`), or an in-place
    update of a holder."""
    names: set[str] = set()
    for node in _walk_local(stmt):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        if method in HOLDER_STEPS:
            through = _value_names(node.func.value)
        elif _in_place(method) and (base := _base_name(node.func.value)):
            through = {base}
        else:
            continue
        names |= (through & trainable) | set().union(*(holders.get(name, set()) for name in through))
    return names


@dataclass(frozen=True)
class _Facts:
    """What the walk needs to know of one top-level statement, computed once per file."""

    kind: str
    name: str | None
    binds: frozenset[str]
    kills: frozenset[str]
    changes: frozenset[str]
    reads: frozenset[str]
    random: bool
    seeding: bool


def _facts(body: list[ast.stmt], definitions: _Definitions) -> list[_Facts]:
    trainable = _trainable(body)
    opaque = {
        name
        for stmt in body
        if isinstance(stmt, (*DEFINITIONS, ast.Import, ast.ImportFrom))
        for name in binds(stmt)
    }
    holders = _holders(body, opaque, trainable)
    return [
        _Facts(
            _kind(stmt),
            stmt.name if isinstance(stmt, DEFINITIONS) else None,
            frozenset(binds(stmt)),
            frozenset(_kills(stmt)),
            frozenset(binds(stmt) | _updates(stmt) | _updated_through(stmt, holders, trainable)),
            frozenset(_reads(stmt)),
            definitions.draws_random(stmt),
            _is_seeding(stmt),
        )
        for stmt in body
    ]


@dataclass
class _Walk:
    """The backward walk from a set of names: what is still needed, and whether random draws must be
    replayed (rules 1 to 7)."""

    definitions: _Definitions
    needed: set[str]
    random_pending: bool = False

    def reaches(self, index: int, facts: _Facts) -> bool:
        on_time()
        if facts.kind == "definition":
            if facts.name not in self.needed:
                return False
            self.needed = (self.needed - {facts.name}) | self.definitions.expand(
                self.definitions.at_definition[index]
            )
            return True
        if facts.kind == "import":
            if not facts.binds & (self.needed | {"*"}):
                return False
            self.needed -= facts.kills
            return True
        if facts.changes & self.needed:
            self.needed = (self.needed - facts.kills) | self.definitions.expand(set(facts.reads))
            self.random_pending = self.random_pending or facts.random
            return True
        if self.random_pending and (facts.seeding or facts.random):
            self.needed |= self.definitions.expand(set(facts.reads))
            self.random_pending = not facts.seeding
            return True
        return False


def _reached(definitions: _Definitions, facts: list[_Facts], names: set[str]) -> tuple[list[bool], set[str]]:
    """Which statements `names` reach, and the names still needed before the first statement."""
    walk = _Walk(definitions, definitions.expand(names))
    flags = [walk.reaches(index, facts[index]) for index in range(len(facts) - 1, -1, -1)][::-1]
    return flags, walk.needed


def graded_body(body: list[ast.stmt], until: int | None) -> list[ast.stmt]:
    """The statements before line `until` (the end of the graded part; see sections.py).

    Imports further down are kept when they bind nothing the graded part binds: an import costs
    nothing, and a later cell's `import math` must not decide whether a helper loads. A star import
    further down is not kept: it may bind anything, and the checks never saw it.
    """
    if until is None:
        return body
    graded = [stmt for stmt in body if stmt.lineno < until]
    bound = set().union(*(binds(stmt) for stmt in graded))
    later_imports = [
        stmt
        for stmt in body
        if stmt.lineno >= until
        and isinstance(stmt, ast.Import | ast.ImportFrom)
        and not binds(stmt) & (bound | {"*"})
    ]
    return graded + later_imports


def slice_source(
    text: str,
    answers: list[str] | tuple[str, ...],
    filename: str = "<submission>",
    tree: ast.Module | None = None,
    until: int | None = None,
    *,
    legacy: Legacy | None = None,
) -> Sliced:
    """Apply the intake rule to parseable source (already parsed as `tree`, if given).

    `until` is the first line that no longer belongs to the graded part of the notebook; `legacy`, the
    section's legacy name and the answers it stands for (the module's docstring), or None for none.
    Raises SyntaxError if `text` is given without a tree and does not parse.
    """
    tree = tree or ast.parse(text, filename=filename)
    text, renamed = _rename_legacy(text, tree, legacy)
    if renamed:
        tree = ast.parse(text, filename=filename)
    lines = text.split("\n")
    body = graded_body(tree.body, until)
    definitions = _Definitions.of(body, lines)
    facts = _facts(body, definitions)
    keep, unbound = _reached(definitions, facts, set(answers))
    kept = [index for index, flag in enumerate(keep) if flag]
    position = {index: place for place, index in enumerate(kept)}
    reach = {
        name: frozenset(
            position[index] for index, flag in enumerate(_reached(definitions, facts, {name})[0]) if flag
        )
        for name in answers
    }
    units = [
        Unit(*_segment(lines, body[index]), tuple(sorted(facts[index].binds)), facts[index].kind)
        for index in kept
    ]
    kept_ids = {id(body[index]) for index in kept}
    dropped = [stmt.lineno for stmt in tree.body if id(stmt) not in kept_ids]
    return Sliced(
        units,
        dropped,
        tree,
        text,
        renamed,
        definitions.functions,
        frozenset(unbound),
        [body[index] for index in kept],
        reach,
    )
