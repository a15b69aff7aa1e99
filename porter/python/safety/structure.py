"""One walk over a parsed module that records the shapes the safety policies judge: branches and dispatch groups,
definitions, sibling assignments, literal collections, string literals and CUDA-specific tokens, with their spans."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import PositionProvider

from porter.findings import Span
from porter.python.backends import Markers, segments
from porter.python.base import CachedVisitorMethods, dotted_text, string_value
from porter.python.positions import node_span


def inside(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.column) <= (inner.line, inner.column) and (
        inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def joined(first: Span, last: Span) -> Span:
    return Span(first.line, first.column, last.end_line, last.end_column)


@dataclass
class Branch:
    test_span: Span
    body_span: Span
    rest_span: Span | None = None  # the `elif`/`else` arms that run when the test is false


@dataclass
class DispatchGroup:
    """An if/elif/else chain, or a run of consecutive `if` statements in one block."""

    span: Span
    branches: list[Branch]
    else_span: Span | None = None


@dataclass
class Definition:
    name: str
    kind: str  # function, class, constant
    span: Span
    module_level: bool


@dataclass
class Sibling:
    """An assignment of one block: its target's code, its value node and the statement's span."""

    block: int
    target: str
    value: cst.BaseExpression
    span: Span


@dataclass
class Literal:
    node: cst.CSTNode
    value: str  # the string value; for an f-string the text before its first placeholder plus "{}"
    span: Span
    argument: bool = False  # passed straight to a call (`os.path.join(root, "cuda")`): a path or a name, not a value


@dataclass
class Structure:
    dispatch_groups: list[DispatchGroup] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    functions: list[Span] = field(default_factory=list)
    calls: list[Span] = field(default_factory=list)  # outer calls before the calls inside them
    tests: list[Span] = field(default_factory=list)  # comparisons and `x.startswith(...)`: what tests a value
    statements: list[Span] = field(default_factory=list)  # simple statement lines
    conditions: list[Span] = field(default_factory=list)  # conditional expressions' tests, `not`, `and`/`or`, asserts
    choices: list[Branch] = field(default_factory=list)  # `a if test else b`: test and the value it selects
    siblings: list[Sibling] = field(default_factory=list)
    collections: list[tuple[Span, list[Literal]]] = field(default_factory=list)
    literals: list[Literal] = field(default_factory=list)
    source_tokens: list[tuple[Span, str, bool]] = field(default_factory=list)  # CUDA names and strings (is_string)
    backend_names: list[tuple[Span, frozenset[str]]] = field(default_factory=list)  # identifiers naming backends
    # besides the source (Markers.name_backends, dispatch only), with those backends
    names: set[str] = field(default_factory=set)  # every identifier used
    name_uses: dict[str, list[Span]] = field(default_factory=dict)  # uses of import-bound names (flagged imports)
    import_aliases: list[tuple[str, Span]] = field(default_factory=list)  # bound name, alias span
    module_span: Span | None = None


def literal_value(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = string_value(node)
        return value if isinstance(value, str) else None
    if isinstance(node, cst.FormattedString):
        text = ""
        for part in node.parts:
            if not isinstance(part, cst.FormattedStringText):
                return text + "{}"
            text += part.value
        return text
    return None


def _is_prose(value: str) -> bool:
    return any(c.isspace() for c in value)


class StructureWalk(CachedVisitorMethods):
    """Runs in the frontend's batched pass; `found` is complete once the pass is over."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, markers: Markers, import_bound: frozenset[str] | None) -> None:
        super().__init__()
        self.markers = markers
        self.import_bound = import_bound  # names an import binds (None: unknown, record every use)
        self.found = Structure()
        self.depth = 0  # function/class nesting
        self.in_function = 0
        self.blocks = 0
        self.docstrings: set[int] = set()
        self.arguments: set[int] = set()
        self.other_segments = frozenset().union(*(b.segments for b in markers.others if b.dispatch))

    def span(self, node: cst.CSTNode) -> Span:
        return node_span(self.metadata[PositionProvider], node)

    def visit_Module(self, node: cst.Module) -> None:
        self.found.module_span = self.span(node)
        self._block(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._block(node.body)

    def _block(self, body) -> None:
        self.blocks += 1
        statements = list(body)
        if statements and _docstring(statements[0]) is not None:
            self.docstrings.add(id(_docstring(statements[0])))
        run: list[cst.If] = []
        for statement in [*statements, None]:
            if isinstance(statement, cst.If):
                run.append(statement)
                continue
            if run:
                self._dispatch_group(run)
            run = []
            if isinstance(statement, cst.SimpleStatementLine):
                self.found.statements.append(self.span(statement))
                self._siblings(statement)

    def _siblings(self, line: cst.SimpleStatementLine) -> None:
        for small in line.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            code = dotted_text(target) or cst.Module(body=[]).code_for_node(target)
            self.found.siblings.append(Sibling(self.blocks, code, value, self.span(line)))
            if isinstance(target, cst.Name) and not self.in_function:
                self.found.definitions.append(Definition(target.value, "constant", self.span(line), self.depth == 0))

    def _dispatch_group(self, run: list[cst.If]) -> None:
        branches, else_span = [], None
        for statement in run:
            current = statement
            while True:
                orelse = current.orelse
                rest = self.span(orelse) if orelse is not None else None
                branches.append(Branch(self.span(current.test), self.span(current.body), rest))
                if isinstance(orelse, cst.If):
                    current = orelse
                    continue
                if isinstance(orelse, cst.Else):
                    else_span = self.span(orelse.body)
                break
        self.found.dispatch_groups.append(DispatchGroup(joined(self.span(run[0]), self.span(run[-1])), branches, else_span))
        self.found.branches.extend(branches)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        span = self.span(node)
        self.found.functions.append(span)
        self.found.definitions.append(Definition(node.name.value, "function", span, self.depth == 0))
        self.depth += 1
        self.in_function += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1
        self.in_function -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.found.definitions.append(Definition(node.name.value, "class", self.span(node), self.depth == 0))
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        bound = node.asname.name if node.asname is not None and isinstance(node.asname.name, cst.Name) else None
        name = bound.value if bound is not None else cst.helpers.get_full_name_for_node(node.name).split(".")[0]
        self.found.import_aliases.append((name, self.span(node)))

    def visit_Name(self, node: cst.Name) -> None:
        self.found.names.add(node.value)
        if segments(node.value) & self.other_segments:
            named = self.markers.name_backends(node.value, dispatch_only=True) - {self.markers.source.name}
            if named:
                self.found.backend_names.append((self.span(node), frozenset(named)))
        if self.import_bound is None or node.value in self.import_bound:
            self.found.name_uses.setdefault(node.value, []).append(self.span(node))
        if self.markers.mentions_source(node.value):
            self.found.source_tokens.append((self.span(node), node.value, False))

    def _literal(self, node: cst.CSTNode) -> None:
        value = literal_value(node)
        if value is None or id(node) in self.docstrings:
            return
        span = self.span(node)
        self.found.literals.append(Literal(node, value, span, id(node) in self.arguments))
        if not _is_prose(value) and segments(value) & self.markers.source.segments:
            self.found.source_tokens.append((span, value, True))

    def visit_Call(self, node: cst.Call) -> None:
        self.found.calls.append(self.span(node))
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("startswith", "endswith"):
            self.found.tests.append(self.span(node))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.found.tests.append(self.span(node))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.found.conditions.append(self.span(node.test))
        self.found.choices.append(Branch(self.span(node.test), self.span(node.body)))

    def visit_While(self, node: cst.While) -> None:
        self.found.conditions.append(self.span(node.test))

    def visit_Assert(self, node: cst.Assert) -> None:
        self.found.conditions.append(self.span(node.test))

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self.found.conditions.append(self.span(node))

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self.found.conditions.append(self.span(node))

    def visit_Arg(self, node: cst.Arg) -> None:
        self.arguments.add(id(node.value))

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._literal(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self._literal(node)

    def _collection(self, node: cst.CSTNode, items) -> None:
        literals = [Literal(item, v, self.span(item)) for item in items if (v := literal_value(item)) is not None]
        if literals:
            self.found.collections.append((self.span(node), literals))

    def visit_List(self, node: cst.List) -> None:
        self._collection(node, [e.value for e in node.elements])

    def visit_Tuple(self, node: cst.Tuple) -> None:
        self._collection(node, [e.value for e in node.elements])

    def visit_Set(self, node: cst.Set) -> None:
        self._collection(node, [e.value for e in node.elements])

    def visit_Dict(self, node: cst.Dict) -> None:
        self._collection(node, [e.key for e in node.elements if isinstance(e, cst.DictElement)])


def _docstring(statement) -> cst.CSTNode | None:
    if (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))):
        return statement.body[0].value
    return None


