"""A read-only batched walk of a libcst tree, the same calls in the same order as `MetadataWrapper.visit_batched`.

libcst walks a tree by rebuilding it: each node's `_visit_and_replace_children` constructs (and validates) a new
node even when every visitor only reads, which makes a read-only pass cost several times the parse. This walk
reads the children instead. The order of a node's children is libcst's own: read, once per node class, from the
visits in the source of its `_visit_and_replace_children`. Whitespace, comments and punctuation are not entered
when no visitor of the batch has a method for any of them.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from contextlib import ExitStack

import libcst as cst
from libcst.metadata import MetadataWrapper

_ORDER: dict[type, tuple[tuple[str, bool], ...]] = {}  # node class -> (attribute, only if not None), libcst's order

_TRIVIA_BASES = (cst.BaseParenthesizableWhitespace, cst.Comment, cst.EmptyLine, cst.Newline, cst.TrailingWhitespace,
                 cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.ImportStar, cst.LeftParen,
                 cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
                 cst.RightCurlyBrace, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseAugOp,
                 cst.BaseUnaryOp, cst.Asynchronous)


def _visits_in(tree: ast.AST, conditional: bool = False):
    """(attribute, visited only when its value is not None) for each libcst `visit_*(self, "attribute", ...)` call,
    in source order, which is the order the calls run in."""
    if isinstance(tree, ast.IfExp):
        branches = [list(_visits_in(tree.body, True)), list(_visits_in(tree.orelse, True))]
        both = {a for a, _ in branches[0]} & {a for a, _ in branches[1]}  # `names`: one visit or another, always
        yield from ((a, False) if a in both else (a, True) for a, _ in branches[0])
        yield from ((a, True) for a, _ in branches[1] if a not in both)
        return
    if (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id.startswith("visit_")
            and len(tree.args) > 1 and isinstance(tree.args[1], ast.Constant)):
        yield tree.args[1].value, conditional
    for child in ast.iter_child_nodes(tree):
        yield from _visits_in(child, conditional)


def _order(cls: type) -> tuple[tuple[str, bool], ...]:
    order = _ORDER.get(cls)
    if order is None:
        source = textwrap.dedent(inspect.getsource(cls._visit_and_replace_children))
        order = _ORDER[cls] = tuple(_visits_in(ast.parse(source)))
    return order


def _is_trivia(cls: type) -> bool:
    return issubclass(cls, _TRIVIA_BASES)


class _Walk:
    def __init__(self, visitors: list[cst.BatchableCSTVisitor]) -> None:
        self.methods: dict[str, list] = {}
        for visitor in visitors:
            for name, method in visitor.get_visitors().items():
                self.methods.setdefault(name, []).append(method)
        self.prune = not any(self._names_trivia(name) for name in self.methods)
        self.plans: dict[type, tuple] = {}

    @staticmethod
    def _names_trivia(method_name: str) -> bool:
        class_name = method_name.split("_")[1]
        cls = getattr(cst, class_name, None)
        return cls is None or (isinstance(cls, type) and _is_trivia(cls))  # unknown: assume the worst

    def _plan(self, node: cst.CSTNode) -> tuple:
        cls = type(node)
        name = cls.__name__
        get = self.methods.get
        fields = tuple((attribute, only_if_set, tuple(get(f"visit_{name}_{attribute}", ())),
                        tuple(get(f"leave_{name}_{attribute}", ()))) for attribute, only_if_set in _order(cls))
        skip = self.prune and _is_trivia(cls)
        plan = self.plans[cls] = (skip, tuple(get(f"visit_{name}", ())), fields, tuple(get(f"leave_{name}", ())))
        return plan

    def walk(self, node: cst.CSTNode) -> None:
        plan = self.plans.get(type(node)) or self._plan(node)
        skip, visits, fields, leaves = plan
        if skip:
            return
        for method in visits:
            method(node)
        walk = self.walk
        for attribute, only_if_set, before, after in fields:
            child = getattr(node, attribute)
            if only_if_set and child is None:
                continue
            for method in before:
                method(node)
            if isinstance(child, cst.CSTNode):
                walk(child)
            elif isinstance(child, (tuple, list)):
                for item in child:
                    walk(item)
            for method in after:
                method(node)
        for method in leaves:
            method(node)


def _sources_readable() -> bool:
    try:
        _order(cst.Module)
        return True
    except (OSError, TypeError):  # a libcst installed without its sources
        return False


def visit_batched(wrapper: MetadataWrapper, visitors: list[cst.BatchableCSTVisitor]) -> None:
    """`wrapper.visit_batched(visitors)` for visitors that only read: metadata resolved, then one walk."""
    if not _sources_readable():
        wrapper.visit_batched(visitors)
        return
    with ExitStack() as stack:
        for visitor in visitors:
            stack.enter_context(visitor.resolve(wrapper))
        _Walk(visitors).walk(wrapper.module)
