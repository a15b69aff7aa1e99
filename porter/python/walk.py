"""A read-only batched walk of a libcst tree, the same calls in the same order as `MetadataWrapper.visit_batched`.

libcst walks a tree by rebuilding it: each node's `_visit_and_replace_children` constructs (and validates) a new
node even when every visitor only reads, which makes a read-only pass cost several times the parse. This walk
reads the children instead. The order of a node's children is libcst's own: read, once per node class, from the
visits in the source of its `_visit_and_replace_children`. Whitespace, comments and punctuation are not entered
when no visitor of the batch has a method for any of them.

Applying edits has the same cost in libcst (a transformer rebuilds every node); `rewritten` rebuilds only the nodes
on the way to an edited one. `read_only_visits` gives libcst's own read-only passes (its scope analysis, the
matchers) the same reading walk.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from contextlib import ExitStack, contextmanager

import libcst as cst
from libcst.metadata import MetadataWrapper

_ORDER: dict[type, tuple[tuple[str, bool, str], ...]] = {}  # node class -> (attribute, only if not None, the
# libcst helper that visits it), in libcst's order

_ABSENT = cst.MaybeSentinel.DEFAULT  # besides None, what an attribute holds instead of a node; the node classes
# are abstract base classes, slow to test against, so a child is told from these and from sequences instead

TRIVIA_BASES = (cst.BaseParenthesizableWhitespace, cst.Comment, cst.EmptyLine, cst.Newline, cst.TrailingWhitespace,
                 cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.ImportStar, cst.LeftParen,
                 cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
                 cst.RightCurlyBrace, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseAugOp,
                 cst.BaseUnaryOp, cst.Asynchronous)


def _visits_in(tree: ast.AST, conditional: bool = False):
    """(attribute, visited only when its value is not None, helper) for each libcst `visit_*(self, "attribute", ...)`
    call, in source order, which is the order the calls run in."""
    if isinstance(tree, ast.IfExp):
        branches = [list(_visits_in(tree.body, True)), list(_visits_in(tree.orelse, True))]
        both = {a for a, *_ in branches[0]} & {a for a, *_ in branches[1]}  # `names`: one visit or another, always
        yield from ((a, a not in both, helper) for a, _, helper in branches[0])
        yield from ((a, True, helper) for a, _, helper in branches[1] if a not in both)
        return
    if (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id.startswith("visit_")
            and len(tree.args) > 1 and isinstance(tree.args[1], ast.Constant)):
        yield tree.args[1].value, conditional, tree.func.id
    for child in ast.iter_child_nodes(tree):
        yield from _visits_in(child, conditional)


def _order(cls: type) -> tuple[tuple[str, bool, str], ...]:
    order = _ORDER.get(cls)
    if order is None:
        source = textwrap.dedent(inspect.getsource(cls._visit_and_replace_children))
        order = _ORDER[cls] = tuple(_visits_in(ast.parse(source)))
    return order


def _is_trivia(cls: type) -> bool:
    return issubclass(cls, TRIVIA_BASES)


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
                        tuple(get(f"leave_{name}_{attribute}", ()))) for attribute, only_if_set, _ in _order(cls))
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
            if isinstance(child, (tuple, list)):
                for item in child:
                    walk(item)
            elif child is not None and child is not _ABSENT:
                walk(child)
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


_LIBCST_VISIT = cst.CSTNode.visit
_READS: dict[type, bool] = {}  # visitor class -> whether it only reads (a CSTVisitor)
_AROUND: dict[tuple[type, type], tuple] = {}  # (visitor class, node class) -> (attribute, only if not None, what
# to call before it and after it, or None); visitor classes are module-level, so this stays small


def _around_children(visitor_class: type, node_class: type) -> tuple:
    """A node class's children in libcst's order, each with what the visitor's `on_visit_attribute` and
    `on_leave_attribute` do around it, decided once: libcst's own hooks look up a method named for the node class
    and the attribute (`visit_Call_func`) on every call, and most visitors have none. A visitor with hooks of its
    own gets them called."""
    def around(hook: str, prefix: str, attribute: str):
        if getattr(visitor_class, hook) is not getattr(cst.CSTVisitor, hook):
            return lambda visitor, node: getattr(visitor, hook)(node, attribute)
        name = f"{prefix}_{node_class.__name__}_{attribute}"
        return (lambda visitor, node: getattr(visitor, name)(node)) if hasattr(visitor_class, name) else None

    plan = _AROUND[visitor_class, node_class] = tuple(
        (attribute, only_if_set, around("on_visit_attribute", "visit", attribute),
         around("on_leave_attribute", "leave", attribute)) for attribute, only_if_set, _ in _order(node_class))
    return plan


def _read_only_visit(node: cst.CSTNode, visitor):
    """libcst's CSTNode.visit without the rebuilding, for a visitor that only reads (returns the node, as libcst
    does for a CSTVisitor)."""
    reads = _READS.get(type(visitor))
    if reads is None:
        reads = _READS[type(visitor)] = isinstance(visitor, cst.CSTVisitor)
    if not reads:
        return _LIBCST_VISIT(node, visitor)
    if visitor.on_visit(node):
        around = _AROUND.get((type(visitor), type(node)))
        if around is None:
            around = _around_children(type(visitor), type(node))
        for attribute, only_if_set, before, after in around:
            child = getattr(node, attribute)
            if only_if_set and child is None:
                continue
            if before is not None:
                before(visitor, node)
            if isinstance(child, (tuple, list)):
                for item in child:
                    item.visit(visitor)
            elif child is not None and child is not _ABSENT:
                child.visit(visitor)
            if after is not None:
                after(visitor, node)
    visitor.on_leave(node)
    return node


@contextmanager
def read_only_visits():
    """Within it, libcst's own read-only passes (the scope analysis and the expression contexts it depends on, the
    matchers' findall, any CSTVisitor) read the tree instead of rebuilding it. Transformers are left to libcst."""
    if not _sources_readable():
        yield
        return
    previous, cst.CSTNode.visit = cst.CSTNode.visit, _read_only_visit
    try:
        yield
    finally:
        cst.CSTNode.visit = previous


class _NotInPlace(Exception):
    """A rewrite removed a node from a place only libcst's transformer knows how to empty."""


class _Rewriter(cst.CSTTransformer):
    def __init__(self, rewrites: dict[int, Callable[[cst.CSTNode], cst.CSTNode]]) -> None:
        super().__init__()
        self.rewrites = rewrites

    def on_leave(self, original_node, updated_node):
        rewrite = self.rewrites.get(id(original_node))
        return rewrite(updated_node) if rewrite is not None else updated_node


def rewritten(tree: cst.CSTNode, rewrites: dict[int, Callable[[cst.CSTNode], cst.CSTNode]],
              may_hold: Callable[[cst.CSTNode], bool] | None = None) -> cst.CSTNode:
    """`tree` with each node whose id() is a key of `rewrites` replaced by that function of the node (its own
    rewritten descendants already in place), bottom-up in libcst's order, as a libcst transformer calling them from
    `on_leave` would do; only the nodes on the way to a rewritten one are rebuilt. A rewrite may return
    `cst.RemovalSentinel.REMOVE` or a `cst.FlattenSentinel` inside a sequence. `may_hold`: False for a node with
    no rewritten one in it (from where the nodes' texts lie), so that the search for them skips it."""
    if not rewrites:
        return tree
    if _sources_readable():
        on_path: set[int] = set()
        _mark_paths(tree, rewrites, on_path, [len(rewrites)], may_hold or _anywhere)
        try:
            return _rebuilt(tree, rewrites, on_path)
        except _NotInPlace:
            pass
    return tree.visit(_Rewriter(rewrites))


def _anywhere(node: cst.CSTNode) -> bool:
    return True


def _mark_paths(node: cst.CSTNode, targets: dict, on_path: set[int], left: list[int],
                may_hold: Callable[[cst.CSTNode], bool]) -> bool:
    """Adds to `on_path` every node with a target at or below it; `left` counts the targets not met yet."""
    found = id(node) in targets
    if found:
        left[0] -= 1
    for attribute, _, _ in _order(type(node)):
        if not left[0]:
            break
        child = getattr(node, attribute)
        if isinstance(child, (tuple, list)):
            for item in child:
                if may_hold(item):
                    found = _mark_paths(item, targets, on_path, left, may_hold) or found
        elif child is not None and child is not _ABSENT and may_hold(child):
            found = _mark_paths(child, targets, on_path, left, may_hold) or found
    if found:
        on_path.add(id(node))
    return found


def _rebuilt(node: cst.CSTNode, rewrites: dict, on_path: set[int]):
    if id(node) not in on_path:
        return node
    changes = {}
    for attribute, _, helper in _order(type(node)):
        child = getattr(node, attribute)
        if id(child) in on_path:  # only nodes are
            new = _rebuilt(child, rewrites, on_path)
            if not isinstance(new, cst.CSTNode):
                raise _NotInPlace
            changes[attribute] = new
        elif isinstance(child, (tuple, list)) and any(id(item) in on_path for item in child):
            changes[attribute] = tuple(_sequence(child, rewrites, on_path, body=helper == "visit_body_sequence"))
    updated = node.with_changes(**changes) if changes else node
    rewrite = rewrites.get(id(node))
    return rewrite(updated) if rewrite is not None else updated


def _sequence(children, rewrites: dict, on_path: set[int], body: bool):
    """libcst's visit_iterable and visit_body_iterable: removed items dropped, flattened ones spliced in, and in a
    body, a statement that a rewrite left empty dropped."""
    for child in children:
        new = _rebuilt(child, rewrites, on_path)
        if isinstance(new, cst.RemovalSentinel):
            continue
        for item in new if isinstance(new, cst.FlattenSentinel) else (new,):
            if not (body and not child._is_removable() and item._is_removable()):
                yield item
