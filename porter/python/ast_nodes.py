"""The stdlib tree's nodes, read faster than `ast.iter_child_nodes` and `ast.walk` do.

Those look up every field of every node and yield the expression contexts and operators (a third of all nodes),
which no reader here needs: a context is read as `node.ctx`, an operator as `node.op`. Here each node class's
fields that can hold a child are found once, and contexts, operators and the fields that hold only names or flags
are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

_NOT_CHILDREN = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "level", "module", "kind",
                           "conversion", "type_comment", "is_async"})  # `names`: an import's aliases, read whole
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_LAST_FIRST: dict[type, tuple[str, ...]] = {}  # the same fields, last first: pushed on a stack, the first comes off first


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _NOT_CHILDREN)
    _LAST_FIRST[cls] = fields[::-1]
    return fields


def first_line(statement: ast.stmt) -> int:
    """The line a statement starts on, its decorators included (the stdlib tree starts a definition at `def`)."""
    return min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """The children of `node` in field order, as `ast.iter_child_nodes` gives them, less the left-out ones."""
    fields = _CHILD_FIELDS.get(type(node))
    if fields is None:  # not `or`: a leaf's fields are an empty tuple
        fields = _child_fields(type(node))
    children = []
    for field in fields:
        value = getattr(node, field, None)
        if type(value) is list:
            children += [item for item in value if isinstance(item, ast.AST)]
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """`tree` and every node below it, each before its children (ast.walk's set of nodes, less the left-out ones,
    in another order)."""
    for node, _ in nodes_with_depth(tree):
        yield node


def nodes_with_depth(tree: ast.AST) -> Iterator[tuple[ast.AST, int]]:
    """As `nodes`, each with its depth below `tree`. The children are pushed here rather than read through
    `child_nodes`: a call and a list less per node, a third of the walk's time."""
    stack = [(tree, 0)]
    push, pop, last_first, node_class = stack.append, stack.pop, _LAST_FIRST, ast.AST
    while stack:
        node, depth = pop()
        yield node, depth
        fields = last_first.get(type(node))
        if fields is None:
            _child_fields(type(node))
            fields = last_first[type(node)]
        depth += 1
        for field in fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for item in reversed(value):
                    if isinstance(item, node_class):
                        push((item, depth))
            elif isinstance(value, node_class):
                push((value, depth))
