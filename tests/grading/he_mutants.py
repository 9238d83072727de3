"""Deterministic mutants of HumanEval's canonical solutions, for the parity test and benchmark.

A mutant changes one site of a canonical solution's body: a comparison flipped
(`<` to `>=`, `==` to `!=`, `in` to `not in`), an integer constant off by one, `+`
and `-` swapped, `and` and `or` swapped, or the values of the first two distinct
`return`s swapped. Nothing inside a `while` loop is touched, so no mutant loops
forever. The sites of a problem are drawn with `random.Random(problem number)`.
"""

from __future__ import annotations

import ast
import copy
import random
import textwrap
from collections.abc import Iterator

__all__ = ["body_mutants", "restated"]

_FLIP: dict[type, type] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


def _outside_while(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree`, skipping `while` statements and all they contain."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.While):
            continue
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _sites(tree: ast.Module) -> list[tuple[str, int]]:
    """(kind, k): the k-th node of that kind, in walk order."""
    sites: list[tuple[str, int]] = []
    counts: dict[str, int] = {}
    for node in _outside_while(tree):
        kind = None
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            kind = "compare"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            kind = "constant"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            kind = "arith"
        elif isinstance(node, ast.BoolOp):
            kind = "bool"
        if kind:
            sites.append((kind, counts.get(kind, 0)))
            counts[kind] = counts.get(kind, 0) + 1
    returns = [n for n in _outside_while(tree) if isinstance(n, ast.Return) and n.value is not None]
    if len({ast.unparse(r.value) for r in returns}) >= 2:  # type: ignore[arg-type]
        sites.append(("returns", 0))
    return sites


def _apply(tree: ast.Module, kind: str, k: int) -> ast.Module:
    tree = copy.deepcopy(tree)
    if kind == "returns":
        returns = [n for n in _outside_while(tree) if isinstance(n, ast.Return) and n.value is not None]
        first = returns[0]
        second = next(r for r in returns[1:] if ast.unparse(r.value) != ast.unparse(first.value))  # type: ignore[arg-type]
        first.value, second.value = second.value, first.value
        return tree
    seen = 0
    for node in _outside_while(tree):
        match = (
            (kind == "compare" and isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP)
            or (kind == "constant" and isinstance(node, ast.Constant) and type(node.value) is int)
            or (kind == "arith" and isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub))
            or (kind == "bool" and isinstance(node, ast.BoolOp))
        )
        if not match:
            continue
        if seen == k:
            if isinstance(node, ast.Compare):
                node.ops[0] = _FLIP[type(node.ops[0])]()
            elif isinstance(node, ast.Constant):
                node.value = node.value + 1
            elif isinstance(node, ast.BinOp):
                node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            elif isinstance(node, ast.BoolOp):
                node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            return tree
        seen += 1
    raise ValueError(f"no site {kind}/{k}")


def body_mutants(task_id: str, body: str, per_problem: int = 4) -> list[str]:
    """Up to `per_problem` distinct one-site mutants of a canonical body, as body completions."""
    tree = ast.parse(textwrap.dedent(body))
    original = ast.unparse(tree)
    sites = _sites(tree)
    random.Random(int(task_id.split("/")[-1])).shuffle(sites)
    out: list[str] = []
    for kind, k in sites:
        source = ast.unparse(_apply(tree, kind, k))
        body_text = textwrap.indent(source, "    ") + "\n"
        if source != original and body_text not in out:
            out.append(body_text)
        if len(out) == per_problem:
            break
    return out


def restated(prompt: str, body: str, entry_point: str) -> str:
    """What a chat model restating only the function writes: the entry point's def, nothing else
    of the prompt (no imports, no helpers)."""
    tree = ast.parse(prompt + body)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point)
    return "```python\n" + ast.unparse(fn) + "\n```"
