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


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """The children of `node` in field order, as `ast.iter_child_nodes` gives them, less the left-out ones."""
    fields = _CHILD_FIELDS.get(type(node))
    if fields is None:
        fields = _CHILD_FIELDS[type(node)] = tuple(f for f in node._fields if f not in _NOT_CHILDREN)
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
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack += reversed(child_nodes(node))
