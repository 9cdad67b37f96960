"""`when:` / `unless:` expressions: a tiny, safe language over facts.

Grammar (a subset of Python's expression syntax, parsed with `ast` and evaluated by a
whitelist — no calls, no attribute access beyond fact paths, no code):

    expr    := expr 'or' expr | expr 'and' expr | 'not' expr | '(' expr ')' | compare
    compare := value (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') value)*
    value   := fact.path | 'string' | number | true | false | null | [value, ...]

A bare fact path is true when the fact is truthy (non-empty, non-null, non-zero).
Fact paths are checked against the known facts when the playbook loads.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False,
            "None": None}


class ExprError(ValueError):
    def __init__(self, message: str, col: int = 0):
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Expr:
    source: str
    tree: ast.AST
    paths: Tuple[str, ...]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree, facts))


def _path_of(node: ast.AST) -> Optional[str]:
    parts: List[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def parse(source: str, known: Callable[[str], bool]) -> Expr:
    """Parse and check an expression. Raises ExprError(message, col) with a 0-based column."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("empty expression")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExprError("not a valid expression: %s" % (exc.msg,), max((exc.offset or 1) - 1, 0))
    paths: List[str] = []
    _check(tree, known, paths)
    return Expr(source.strip(), tree, tuple(paths))


_CMP = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)


def _check(node: ast.AST, known: Callable[[str], bool], paths: List[str]) -> None:
    col = getattr(node, "col_offset", 0)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
        for v in node.values:
            _check(v, known, paths)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, known, paths)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if not isinstance(op, _CMP):
                raise ExprError("operator %s is not allowed" % type(op).__name__, col)
        _check(node.left, known, paths)
        for c in node.comparators:
            _check(c, known, paths)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            _check(e, known, paths)
    elif isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool,
                                                                    type(None))):
        pass
    elif isinstance(node, ast.Name) and node.id in LITERALS:
        pass
    elif isinstance(node, (ast.Name, ast.Attribute)):
        path = _path_of(node)
        if path is None:
            raise ExprError("only fact paths like python.version may be used", col)
        if not known(path):
            raise ExprError("unknown fact %r" % path, col)
        paths.append(path)
    else:
        raise ExprError("%s is not allowed in a condition (only comparisons of facts and "
                        "literals with and/or/not)" % type(node).__name__, col)


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    node: Any = facts
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def _eval(node: ast.AST, facts: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, facts) for v in node.values)
        return any(_eval(v, facts) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, facts)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, facts)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, facts)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, facts) for e in node.elts]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in LITERALS:
        return LITERALS[node.id]
    path = _path_of(node)
    assert path is not None
    return lookup(facts, path)


def _compare(op: ast.cmpop, a: Any, b: Any) -> bool:
    if isinstance(op, ast.Eq):
        return a == b
    if isinstance(op, ast.NotEq):
        return a != b
    if isinstance(op, (ast.In, ast.NotIn)):
        try:
            inside = a in (b if b is not None else ())
        except TypeError:
            inside = False
        return inside if isinstance(op, ast.In) else not inside
    if a is None or b is None:
        return False
    try:
        if isinstance(op, ast.Lt):
            return a < b
        if isinstance(op, ast.LtE):
            return a <= b
        if isinstance(op, ast.Gt):
            return a > b
        return a >= b
    except TypeError:
        return False


