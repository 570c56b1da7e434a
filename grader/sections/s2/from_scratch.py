"""The from-scratch rule of §2.1, checked by reading the code; the run-time half is the operator recorder.

The exercise is to build attention by hand, so PyTorch's ready-made attention may not be used. Reading
the function (and every function of the submission it calls, and the module's import aliases) catches
plain and renamed uses and says where they are. What reading cannot see (a name built from strings,
``torch.ops``, a copied code object) is caught twice over: the static review of ``grader.integrity``
flags the constructs such routes need, and the operator recorder (``grader/sandbox/op_recorder.py``)
sees the attention kernels themselves run, with a canary the trusted side verifies. Loops are allowed;
``uses_loops`` only feeds an ungraded note.
"""

import ast
from collections.abc import Callable
from dataclasses import dataclass

#: Identifiers that give away the exercise.
FORBIDDEN_NAMES = frozenset(
    {"scaled_dot_product_attention", "multi_head_attention_forward", "MultiheadAttention"}
)

FROM_SCRATCH_RULE = (
    "This exercise builds attention from scratch: scaled_dot_product_attention, "
    "multi_head_attention_forward and nn.MultiheadAttention may not be used, even under another name."
)

FunctionLookup = Callable[[str], ast.FunctionDef | None]


@dataclass(frozen=True)
class ForbiddenUse:
    """Where a forbidden name was found: the chain of the student's functions that leads to it."""

    chain: tuple[str, ...]
    used: str
    line: int

    def message(self) -> str:
        via = " -> ".join(self.chain)
        return f"{via} uses {self.used} (line {self.line}). {FROM_SCRATCH_RULE}"


def module_aliases(module: ast.Module | None) -> dict[str, str]:
    """Top-level names bound to a forbidden function: ``from ... import x as y`` and ``y = F.x``."""
    aliases: dict[str, str] = {}
    for statement in module.body if module is not None else []:
        if isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if alias.name in FORBIDDEN_NAMES:
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(statement, ast.Assign):
            found = _forbidden_in(statement.value, aliases)
            if found:
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        aliases[target.id] = found
    return aliases


def _identifier(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.alias):
        return node.name
    return None


def _forbidden_node(node: ast.AST, aliases: dict[str, str]) -> str | None:
    identifier = _identifier(node)
    if identifier in FORBIDDEN_NAMES:
        return identifier
    if isinstance(node, ast.Name) and node.id in aliases:
        return f"{aliases[node.id]} (as {node.id})"
    return None


def _forbidden_in(tree: ast.AST, aliases: dict[str, str]) -> str | None:
    return next(filter(None, (_forbidden_node(node, aliases) for node in ast.walk(tree))), None)


def find_forbidden_use(
    name: str, lookup: FunctionLookup, module: ast.Module | None = None
) -> ForbiddenUse | None:
    """The first forbidden use reachable from function ``name`` through the submission's own functions."""
    aliases = module_aliases(module)
    seen: set[str] = set()

    def visit(function: str, chain: tuple[str, ...]) -> ForbiddenUse | None:
        node = lookup(function)
        if node is None or function in seen:
            return None
        seen.add(function)
        chain = chain + (function,)
        for inner in ast.walk(node):
            found = _forbidden_node(inner, aliases)
            if found:
                return ForbiddenUse(chain, found, getattr(inner, "lineno", node.lineno))
        called = (
            inner.func.id
            for inner in ast.walk(node)
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
        )
        return next(filter(None, (visit(callee, chain) for callee in called)), None)

    return visit(name, ())


def uses_loops(node: ast.FunctionDef | None) -> bool:
    """Whether the function has a for/while loop or a comprehension."""
    loop_types = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    return node is not None and any(isinstance(inner, loop_types) for inner in ast.walk(node))
