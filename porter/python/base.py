"""Shared machinery for rule-kind visitors: each visitor proposes edits and findings, nothing is applied here."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider, QualifiedNameSource

from porter.findings import STATUS_OF_ENTRY, Finding, Span, Status
from porter.python.ast_nodes import nodes
from porter.python.import_table import MODULE, ImportTable, import_table
from porter.python.positions import Positions, node_span
from porter.python.span_index import Containers
from porter.python.walk import rewritten
from porter.ruleset import Entry, Rule

_EMPTY_MODULE = cst.Module(body=[])


@dataclass
class Edit:
    """Replace `node` by `rewrite(updated_node)`; `updated_node` already carries the edits made inside it."""

    node: cst.CSTNode
    rewrite: Callable[[cst.CSTNode], cst.CSTNode]
    needs_imports: tuple[str, ...] = ()  # modules the new code refers to
    unused_bindings: tuple[str, ...] = ()  # import-bound names this edit stops using (dropped if now unused)
    adds_import: bool = True  # the new code needs the support import (rule data decides)
    span: Span | None = None  # where `node` is in the source (set by `record`)
    finding: Finding | None = None  # the finding that announces this edit (dropped with it when vetoed)


@dataclass
class Proposals:
    """What all visitors of one file found; shared by the batch so the residual pass can see coverage."""

    edits: list[Edit]
    findings: list[Finding]
    covered: Containers  # what later passes skip
    import_bound: frozenset[str] | None  # names imports bind (only these can resolve to an API); None: unknown
    call_funcs: dict[int, cst.Call]  # id() of each call's callee -> the call (filled before the callee is visited)
    local_modules: frozenset[str] = frozenset()  # the repository's own top-level modules
    own_attributes: frozenset[str] = frozenset()  # `receiver.attribute` the module itself assigns (`self.is_cuda`)
    own_functions: frozenset[str] = frozenset()  # function and method names the module itself defines
    support_modules: frozenset[str] = frozenset()  # what support_import rules add (`torch_npu`)
    qualified: dict[int, tuple[cst.CSTNode, frozenset[str] | None]] = field(default_factory=dict)  # _names:
    # every rule's visitor asks for the same nodes. id() -> (node, names): keeping the node keeps its id() from being
    # given to another (detectors also ask about nodes they build and drop, porter.python.inline); hashing the node
    # instead costs a Python-level __hash__ call per question
    replaced: Containers = field(default_factory=Containers)  # code a rule rewrote whole (a call with its
    # arguments, a fused product): the call transforms look no further inside
    imports: ImportTable | None = None  # answers most qualified names without the scope analysis
    scope_of: Callable[[cst.CSTNode], object] = lambda node: None  # the scope analysis, run on first use
    unscoped: set[int] = field(default_factory=set)  # id() of names the scope analysis skips: they resolve to nothing
    binding: set[int] = field(default_factory=set)  # id() of the names a definition or parameter binds: where the
    # import table answers, that binding is all there is in its scope (a local name, which rules ignore)
    functions: list[int] = field(default_factory=lambda: [MODULE])  # the import table's scope of the code being
    # visited, innermost last (CallIndex keeps it)
    unread: frozenset[str] = frozenset()  # imported names no rule reads (ImportTable.unread)

    @classmethod
    def of_module(cls, lines: int, names: ModuleNames, unread: frozenset[str], local_modules: frozenset[str],
                  scope_of: Callable[[cst.CSTNode], object], support_modules: frozenset[str] = frozenset()
                  ) -> Proposals:
        """None yet, for code of `lines` lines in a module whose names the stdlib scan found."""
        return cls(edits=[], findings=[], covered=Containers(lines), import_bound=names.import_bound, call_funcs={},
                   local_modules=local_modules, own_attributes=names.own_attributes,
                   own_functions=names.own_functions, support_modules=support_modules, imports=names.imports,
                   scope_of=scope_of, unread=unread)

    def covers(self, span: Span) -> bool:
        return self.covered.contains(span)


def code_of(node: cst.CSTNode) -> str:
    return _EMPTY_MODULE.code_for_node(node)


def bare_code(node: cst.CSTNode) -> str:
    """Source text without the parentheses around it: `(a if b else c)` in one call is `a if b else c` in another."""
    if isinstance(node, cst.BaseExpression) and (node.lpar or node.rpar):
        node = node.with_changes(lpar=(), rpar=())
    return code_of(node)


def dotted_text(node: cst.CSTNode | ast.AST) -> str | None:
    """`a.b.c` for a chain of names and attributes, of libcst or of the standard library's `ast` (the prefilter,
    the parity analyzer and the API extractor read code with `ast`); None when a call or subscript is part of it."""
    kind = type(node)  # not isinstance: libcst's node classes are abstract base classes, slow to test against
    if kind is cst.Name:
        return node.value
    if kind is ast.Name:
        return node.id
    if kind is cst.Attribute or kind is ast.Attribute:
        inner = dotted_text(node.value)
        return f"{inner}.{node.attr.value if kind is cst.Attribute else node.attr}" if inner else None
    return None


def string_value(node: cst.SimpleString) -> str | bytes:
    """`node.evaluated_value`, which runs `ast.literal_eval` on every string several visitors read; a literal with
    no prefix but `r` or `u` and nothing the tokenizer or an escape would change is its text between the quotes."""
    text = node.value
    start = 0 if text[0] in "'\"" else 1
    if (start and (text[0] not in "rRuU" or text[1] not in "'\"")) or "\\" in text or "\r" in text or "\0" in text:
        return node.evaluated_value
    quote = 3 if text[start:start + 3] in ('"""', "'''") else 1
    return text[start + quote:len(text) - quote]


def root_name(node: cst.CSTNode) -> str | None:
    while isinstance(node, (cst.Attribute, cst.Call, cst.Subscript)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node.value if isinstance(node, cst.Name) else None


class CachedVisitorMethods(cst.BatchableCSTVisitor):
    """libcst finds a batchable visitor's methods with `inspect.getmembers` on every instance, which costs more
    than some visits; the names are a property of the class, so they are looked up once per class."""

    _method_names: dict[type, tuple[str, ...]] = {}

    def get_visitors(self):
        names = self._method_names.get(type(self))
        if names is None:
            names = self._method_names[type(self)] = tuple(super().get_visitors())
        return {name: getattr(self, name) for name in names}


class RuleVisitor(CachedVisitorMethods):
    METADATA_DEPENDENCIES = (PositionProvider,)
    ALL_RULES = False  # True: one visitor is built with every rule of its kind, in order, and passes the matching one
    # to `record` (a name is then resolved once, not once per rule); its `rule` is None

    def __init__(self, rule: Rule | None, proposals: Proposals) -> None:
        super().__init__()
        self.rule = rule
        self.proposals = proposals

    def span(self, node: cst.CSTNode) -> Span:
        return node_span(self.metadata[PositionProvider], node)

    def is_called(self, node: cst.CSTNode) -> bool:
        return id(node) in self.proposals.call_funcs

    def import_rooted(self, node: cst.CSTNode) -> str | None:
        """`a.b.c` for a chain of names whose first one an import may bind, else None: `imported_names` answers
        nothing for any other node, and most names in a module are such (asking costs more than this test)."""
        text = dotted_text(node)
        bound = self.proposals.import_bound
        if text is None or (bound is not None and text.partition(".")[0] not in bound):
            return None
        return text

    def imported_names(self, node: cst.CSTNode) -> frozenset[str]:
        """Fully qualified names of `node` when it resolves through an import (aliases included).

        Resolved on demand, once per node, and only for names rooted in an import: most names in a file never
        need it. A name no rule reads (Proposals.unread) that the imports alone do not decide answers nothing:
        whatever it resolves to matches no rule (is_imported says whether it resolves at all).
        """
        names = self._names(node)
        return frozenset() if names is None else names

    def is_imported(self, node: cst.CSTNode) -> bool:
        """Whether `node` resolves through an import at all (`x.cuda()` of an imported `x` is no tensor's)."""
        names = self._names(node)
        return bool(self._by_scope(node) if names is None else names)

    def _names(self, node: cst.CSTNode) -> frozenset[str] | None:
        known = self.proposals.qualified.get(id(node))
        if known is None:
            known = self.proposals.qualified[id(node)] = node, self._resolve(node)
        return known[1]

    def _resolve(self, node: cst.CSTNode) -> frozenset[str] | None:
        """The qualified names, or None for a name no rule reads that the import table does not answer."""
        bound = self.proposals.import_bound
        root = root_name(node)
        if (bound is not None and root not in bound) or id(node) in self.proposals.unscoped:
            return frozenset()
        full_name = get_full_name_for_node(node) if self.proposals.imports is not None else None
        known = self.proposals.imports.qualified(full_name, self.proposals.functions[-1]) if full_name else None
        if known is not None:
            return frozenset() if id(node) in self.proposals.binding else known
        return None if root in self.proposals.unread else self._by_scope(node)

    def _by_scope(self, node: cst.CSTNode) -> frozenset[str]:
        scope = self.proposals.scope_of(node)
        if scope is None:
            return frozenset()
        return frozenset(q.name for q in scope.get_qualified_names_for(node)
                         if q.source in (QualifiedNameSource.IMPORT, QualifiedNameSource.BUILTIN))

    def record(
        self,
        node: cst.CSTNode,
        entry: Entry,
        message: str,
        rewrite: Callable[[cst.CSTNode], cst.CSTNode] | None = None,
        replacement: str | None = None,
        needs_imports: tuple[str, ...] = (),
        unused_bindings: tuple[str, ...] = (),
        status: Status | None = None,
        cover: cst.CSTNode | None = None,
        message_override: str | None = None,
        rule: Rule | None = None,
    ) -> Finding:
        """Record a finding on `node` (and an edit when `rewrite` is given); `cover` is what later passes skip.
        `rule`: the rule that matched, for a visitor that applies every rule of its kind (default: its one rule)."""
        rule = rule or self.rule
        span = self.span(node)
        finding = Finding(
            rule_id=rule.id,
            category=rule.category,
            status=status or STATUS_OF_ENTRY[entry.status],
            message=message_override or entry.message or message,
            span=span,
            original=code_of(node),
            replacement=replacement if rewrite is not None else None,
        )
        if rewrite is not None:
            self.proposals.edits.append(
                Edit(node, rewrite, needs_imports, unused_bindings, rule.adds_import, span, finding))
        self.proposals.findings.append(finding)
        self.proposals.covered.add(self.span(cover) if cover is not None else span)
        return finding


def entry_matches(entries: dict[str, Entry], dotted: str) -> Entry | None:
    """The longest entry pattern equal to `dotted` or to one of its dotted prefixes (`a.b` matches `a.b.c`)."""
    while True:
        entry = entries.get(dotted)
        if entry is not None:
            return entry
        dotted, dot, _ = dotted.rpartition(".")
        if not dot:
            return None


class CallIndex(CachedVisitorMethods):
    """Runs first in the batch: records each call under its callee, which is visited after the call itself, the
    names libcst's scope analysis does not visit (they have no qualified name there, so none here either), the
    names definitions and parameters bind, and the function whose body is being visited (decorators, parameters
    and annotations belong to the code around)."""

    def __init__(self, proposals: Proposals, functions_before: int = 0) -> None:
        super().__init__()
        self.proposals = proposals
        self.numbers: dict[int, int] = {}  # id() of each function -> its number in source order (import_table)
        self.functions_before = functions_before  # in the module, before the code parsed (porter.python.fragments)
        self.depth = 0  # definitions around the code being visited

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.numbers[id(node)] = self.functions_before + len(self.numbers) + 1
        self._binds(node.name)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._binds(node.name)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def _binds(self, name: cst.Name) -> None:
        """A definition's name is a local one, but at module level, where libcst reads it as every binding of the
        module's (`except ImportError: def cached_property(...)` has the import's qualified name)."""
        if self.depth:
            self.proposals.binding.add(id(name))
        self.depth += 1

    def visit_Param(self, node: cst.Param) -> None:
        self.proposals.binding.add(id(node.name))

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.proposals.functions.append(self.numbers[id(node)])

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.proposals.functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        self.proposals.call_funcs[id(node.func)] = node

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.proposals.unscoped.add(id(node.attr))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        """The scope analysis names `x` of `x = ...` or `x, y = ...` after this assignment: a local name."""
        target = node.target
        names = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
        if all(isinstance(name, cst.Name) for name in names):
            self.proposals.unscoped.update(id(name) for name in names)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        """`x: T` (or `x: T = ...`): a local name, as for `x = ...`."""
        if isinstance(node.target, cst.Name):
            self.proposals.unscoped.add(id(node.target))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.proposals.unscoped.add(id(node.keyword))

    def visit_Import(self, node: cst.Import) -> None:
        self._unscoped(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._unscoped(node)

    def visit_Global(self, node: cst.Global) -> None:
        self._unscoped(node)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self._unscoped(node)

    def _unscoped(self, statement: cst.CSTNode) -> None:
        stack = list(statement.children)
        while stack:
            node = stack.pop()
            self.proposals.unscoped.add(id(node))
            stack.extend(node.children)


@dataclass(frozen=True)
class ModuleNames:
    """Names found by a cheap scan with the stdlib parser, before the libcst pass."""

    import_bound: frozenset[str] | None  # every name an import binds anywhere; None: unknown (resolve every name)
    own_attributes: frozenset[str] = frozenset()  # attributes the module assigns, with receiver (`self.is_cuda`)
    own_functions: frozenset[str] = frozenset()  # functions and methods the module defines (`def cuda(self)`)
    imported_roots: frozenset[str] | None = None  # first segments of every absolute module imported; None: unknown
    imports: ImportTable | None = None  # None: resolve every name through the scope analysis


@functools.lru_cache(maxsize=1)
def parsed(source: str) -> ast.Module | None:
    """The stdlib parser's tree; None where libcst accepts what this Python's ast does not. The last tree is kept:
    the prefilter, the name scan and the parity suite's facts read the same file one after another, and none of
    them changes a tree."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@functools.lru_cache(maxsize=1)
def scan_names(source: str) -> ModuleNames:
    """The names of the module (kept for the last source: report_only and the libcst frontend both read them)."""
    tree = parsed(source)
    if tree is None:  # then resolve every name
        return ModuleNames(None)
    bound, attributes, functions, roots = set(), set(), set(), set()
    for node in nodes(tree):
        if isinstance(node, ast.Import):
            bound.update(a.asname or a.name.split(".")[0] for a in node.names)
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
            if not node.level and node.module:
                roots.add(node.module.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            attributes.add(f"{ast.unparse(node.value)}.{node.attr}")
    return ModuleNames(frozenset(bound), frozenset(attributes), frozenset(functions), frozenset(roots),
                       import_table(tree))


def unread_imports(names: ModuleNames, read: tuple[str, ...]) -> frozenset[str]:
    """`ImportTable.unread(read)` of the module, looked for only where the table leaves an imported name to the
    scope analysis."""
    table = names.imports
    if table is None or names.import_bound is None or table.answers_every(names.import_bound):
        return frozenset()
    return table.unread(read)


def parse_unchecked(source: str) -> cst.Module:
    """`cst.parse_module` without the check libcst runs on each node it constructs (`CSTNode._validate`, from
    `__post_init__`): the parser builds only what its grammar accepts, and the check costs a seventh of the parse
    (libcst's own comment there says as much). Nodes built later, the rewrites, are checked as usual."""
    check = cst.CSTNode.__post_init__
    cst.CSTNode.__post_init__ = _unchecked
    try:
        return cst.parse_module(source)
    finally:
        cst.CSTNode.__post_init__ = check


def _unchecked(node: cst.CSTNode) -> None:
    pass


def apply_edits(node: cst.CSTNode, edits: list[Edit], positions: Positions | None = None) -> cst.CSTNode:
    """Apply proposed edits bottom-up: each rewrite sees the node with the edits inside it already made. The first
    edit proposed for a node wins. `positions`: those of the parsed module, which tell where the edits lie."""
    rewrites = {}
    for edit in edits:
        rewrites.setdefault(id(edit.node), edit.rewrite)
    may_hold = None if positions is None else positions.holding([edit.node for edit in edits])
    return rewritten(node, rewrites, may_hold)
