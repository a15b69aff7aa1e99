"""The findings of a module that only gets findings, from the stdlib tree: no libcst parse, no concrete syntax tree.

Most let-through modules are never edited: their findings come from report-only renames (`torch.compile`, the
flash-attn APIs without a rewrite), CUDA-only imports and the residual pass. Those need qualified names and
positions, which the stdlib parser and the import table give for a tenth of libcst's cost. `report_only` answers
a module's findings exactly as the libcst frontend would, or None whenever that is not certain:
- a kind it does not implement could match: an API of an editing rule resolves, a string could be a device or an
  environment variable, an attribute is a method a rule renames, a fusion rule's text appears (advice rules'
  APIs and methods are read by porter.python.fragments, over the top-level definitions that use them, unless
  one is used in a top-level simple statement);
- a safety policy could speak without an edit (the path names another backend, a class named for one holds a
  finding, a condition names the target backend);
- a name needs libcst's scope analysis, or a construct is one whose libcst span or text this module does not
  reproduce (a parenthesised hit, a hit inside an f-string, an implicitly concatenated string that mentions CUDA,
  `match`, a carriage return).
tests/test_report_only.py holds both frontends to the same findings on every fixture.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from bisect import bisect_right
from dataclasses import dataclass

from porter.findings import STATUS_OF_ENTRY, Finding, Span, Status
from porter.python.ast_nodes import child_nodes, first_line, nodes
from porter.python.backends import markers_of
from porter.python.base import ModuleNames, dotted_text, entry_matches, parsed, scan_names, unread_imports
from porter.python import fragments
from porter.python.import_table import MODULE
from porter.python.prefilter import api_name, fusion_methods, fusion_texts, triggers_of
from porter.python.span_index import Containers
from porter.python.safety import ModuleContext
from porter.python.strings import device_value
from porter.python.transforms import transforms_of
from porter.ruleset import Entry, Rule, RuleSet

# The kinds the libcst frontend runs that this module either implements or rules out (a test holds them equal).
IMPLEMENTED = ("rename", "import", "residual")
RULED_OUT = ("context_string", "method", "env_var", "fusion", "call_transform", "support_import",
             "backend_implementation", "backend_dispatch", "cuda_only_guard", "distinct_values", "value_consistency")


class _Decline(Exception):
    """The libcst frontend must decide this module."""


@dataclass(frozen=True)
class _Plan:
    """What the rule set asks of this module, derived once per rule set."""

    renames: tuple[tuple[Rule, dict[str, Entry], dict[str, Entry]], ...]  # (rule, entries, report-only entries)
    imports: tuple[tuple[Rule, dict[str, Entry]], ...]
    residuals: tuple[Rule, ...]
    editing_apis: frozenset[str]  # qualified names a rule of a kind not implemented here matches
    advice_apis: frozenset[str]  # qualified names an advice entry matches (porter.python.fragments)
    advice_methods: frozenset[str]  # method names an advice entry matches (`softmax`)
    methods: frozenset[str]  # attribute names a method rule matches
    env_names: frozenset[str]
    device_values: tuple[re.Pattern[str], ...]  # context_string values, as their visitor matches them
    text: tuple[re.Pattern[str], ...]  # text that sends a module to libcst wherever it appears (a fusion rule's)
    read: tuple[str, ...]  # every qualified name a rule reads (porter.python.prefilter.Triggers.read)
    strings: tuple[re.Pattern[str], ...]  # text that sends an f-string or a concatenated string to libcst


_PLANS: dict[str, _Plan | None] = {}


def _is_advice(rule: Rule, entry: Entry) -> bool:
    """An entry whose transform only ever refuses, at no site that reads beyond one top-level definition
    (porter.python.transforms.args.advice): its findings come from porter.python.fragments."""
    sites = getattr(transforms_of(rule)[entry.pattern], "advice_sites", None)
    return sites is not None and "+" not in sites


def _plan_of(ruleset: RuleSet) -> _Plan | None:
    if ruleset.content_hash in _PLANS:
        return _PLANS[ruleset.content_hash]
    plan = None
    markers = markers_of(ruleset)
    if markers is not None:
        first = sorted(ruleset.of_kind("rename"), key=lambda r: r.opt_in is None)
        renames = tuple((r, {e.pattern: e for e in r.entries}, {e.pattern: e for e in r.entries
                                                                 if e.replacement is None}) for r in first)
        advice = {id(e): e for r in ruleset.of_kind(*fragments.KINDS) for e in r.entries if _is_advice(r, e)}
        advice_methods = frozenset(api_name(e.pattern) for e in advice.values() if e.pattern.endswith("()"))
        editing = {api_name(e.pattern) for r in ruleset.of_kind(*fragments.KINDS)
                   if r.kind != "fusion" or "text" not in r.contexts  # no match without its text: `text` below
                   for e in r.entries if id(e) not in advice}
        editing |= {api_name(e.pattern) for r in first for e in r.entries if e.replacement is not None}
        strings = [r.contexts["string"] for r in ruleset.of_kind("residual")]
        strings += [re.escape(e.pattern) for r in ruleset.of_kind("context_string", "env_var") for e in r.entries]
        plan = _Plan(
            renames=renames,
            imports=tuple((r, {e.pattern: e for e in r.entries}) for r in ruleset.of_kind("import")),
            residuals=tuple(ruleset.of_kind("residual")),
            editing_apis=frozenset(editing),
            advice_apis=frozenset(api_name(e.pattern) for e in advice.values() if not e.pattern.endswith("()")),
            advice_methods=advice_methods,
            methods=frozenset(e.pattern.removesuffix("()") for r in ruleset.of_kind("method") for e in r.entries),
            env_names=frozenset(e.pattern for r in ruleset.of_kind("env_var") for e in r.entries),
            device_values=tuple(map(device_value, ruleset.of_kind("context_string"))),
            text=tuple(map(re.compile, [*fusion_texts(ruleset), *fusion_methods(ruleset, advice_methods)])),
            strings=tuple(map(re.compile, strings)),
            read=triggers_of(ruleset).read,
        )
    _PLANS[ruleset.content_hash] = plan
    return plan


def report_only(source: str, ruleset: RuleSet, local_modules: frozenset[str] = frozenset(),
                context: ModuleContext = ModuleContext()) -> list[Finding] | None:
    """The module's findings when the libcst frontend would edit nothing in it, else None (see the module doc)."""
    plan = _plan_of(ruleset)
    if plan is None or "\r" in source or any(p.search(source) for p in plan.text):
        return None
    markers = markers_of(ruleset)
    if markers.path_backends(context.relpath) - {markers.source.name}:
        return None
    tree = parsed(source)
    names = scan_names(source)
    unread = unread_imports(names, plan.read)
    if tree is None or names.imports is None or not names.imports.answers_every(names.import_bound, unread):
        return None
    try:
        return _Module(source, plan, ruleset, names, unread, local_modules, markers).findings(tree)
    except _Decline:
        return None


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMMENT = re.compile(r"#[^\n]*")  # may sit between a parenthesis and the code inside (or be a `#` in a string:
# both readings are taken, the larger count wins)
_OPENING = re.compile(r"[(\s\\]*\Z")
_CLOSING = re.compile(r"[)\s\\]*")
class _Module:
    def __init__(self, source: str, plan: _Plan, ruleset: RuleSet, names: ModuleNames, unread: frozenset[str],
                 local_modules: frozenset[str], markers) -> None:
        self.source, self.plan, self.names, self.local_modules, self.markers = source, plan, names, local_modules, markers
        self.ruleset = ruleset
        self.sites: list[ast.AST] = []  # uses of an advice entry's API or method (porter.python.fragments)
        self.functions_before: dict[int, int] = {}  # id() of a top-level statement -> the functions before it, as
        # the import table numbers its scopes
        self.unread = unread  # imported names no rule reads: matched as nothing where the import table is silent
        self.lines = source.split("\n")
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.parents: dict[int, ast.AST] = {}  # of the nodes a finding may fall on
        self.unscoped: set[int] = set()  # `x` of `x = ...`: libcst gives it no qualified name
        self.qualified: dict[int, list[str]] = {}
        self.dotted: list[ast.AST] = []  # the names and attributes that have qualified names
        self.identifiers: list[tuple[Span, str, ast.AST]] = []  # (span, name, node) of every CUDA-looking name
        self.strings: list[ast.Constant] = []
        self.imports: list[ast.Import | ast.ImportFrom] = []
        self.result_attribute: dict[int, str] = {}  # id() of a call -> the attribute read from its result
        self.calls: dict[int, ast.Call] = {}  # id() of a call's callee -> the call
        self.in_fstring: set[int] = set()
        self.indented: set[int] = set()  # id() of nodes in a statement that is indented: libcst's code for such a
        # node drops the block's indentation from the lines it continues on
        self.backend_classes: list[ast.ClassDef] = []  # classes named for another backend (_left_alone)

    # -- positions ---------------------------------------------------------------------------------------------
    def _column(self, line: int, byte_column: int) -> int:
        text = self.lines[line - 1]
        return byte_column if text.isascii() else len(text.encode()[:byte_column].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> Span:
        return Span(node.lineno, self._column(node.lineno, node.col_offset) + 1,
                    node.end_lineno, self._column(node.end_lineno, node.end_col_offset))

    def _offset(self, line: int, column: int) -> int:
        return self.line_starts[line - 1] + column

    def _text(self, span: Span) -> str:
        return self.source[self._offset(span.line, span.column - 1):self._offset(span.end_line, span.end_column)]

    def _name_span(self, offset: int, name: str) -> Span:
        line = bisect_right(self.line_starts, offset)
        column = offset - self.line_starts[line - 1]
        return Span(line, column + 1, line, column + len(name))

    def _name_after(self, node: ast.AST, pattern: str, name: str) -> Span:
        """The span of `name` where it first follows `pattern` in the text of `node`."""
        start = self._offset(node.lineno, self._column(node.lineno, node.col_offset))
        match = re.compile(rf"{pattern}(?:\s|\\\n)*({re.escape(name)})\b").search(self.source, start)
        if match is None:
            raise _Decline
        return self._name_span(match.start(1), name)

    def _expression_text(self, node: ast.AST) -> str:
        """libcst's code for an expression node: its own parentheses would be part of it, so they decline."""
        span = self.span(node)
        start, end = self._offset(span.line, span.column - 1), self._offset(span.end_line, span.end_column)
        preceding, following = self.source[max(0, start - 2000):start], self.source[end:end + 2000]
        before = max(_OPENING.search(text).group().count("(") for text in (preceding, _COMMENT.sub("", preceding)))
        after = max(_CLOSING.match(text).group().count(")") for text in (following, _COMMENT.sub("", following)))
        parent = self.parents.get(id(node))
        own = min(before, after)
        if own and ((isinstance(parent, ast.Call) and parent.args == [node] and not parent.keywords)
                    or (isinstance(parent, ast.ClassDef) and parent.bases == [node] and not parent.keywords)):
            own -= 1
        if own:
            raise _Decline
        return self._unindented(node, self.source[start:end])

    def _unindented(self, node: ast.AST, text: str) -> str:
        if "\n" in text and id(node) in self.indented:
            raise _Decline
        return text

    def _statement_text(self, node: ast.AST, separator: str) -> str:
        """libcst's code for an import alias or a small statement: up to the next token after its separator."""
        span = self.span(node)
        start, end = self._offset(span.line, span.column - 1), self._offset(span.end_line, span.end_column)
        skip = r"(?:[ \t\f]|\\\n)*" if separator == ";" else r"(?:\s|\\\n|#[^\n]*)*"
        match = re.compile(rf"(?:[ \t\f]|\\\n)*{re.escape(separator)}{skip}").match(self.source, end)
        return self._unindented(node, self.source[start:match.end() if match else end])

    # -- the walk ----------------------------------------------------------------------------------------------
    def _walk(self, tree: ast.Module) -> None:
        """One pass over the tree: what the rules here read, and a decline as soon as another kind could match."""
        residual = [re.compile(r.contexts["identifier"]) for r in self.plan.residuals]
        looks = (lambda name: any(p.search(name) for p in residual))
        functions = 0
        stack: list[tuple[ast.AST, ast.AST | None, int, bool, bool]] = [(tree, None, MODULE, False, False)]
        while stack:
            node, parent, scope, indented, fstring = stack.pop()  # fstring: inside an f-string's placeholder
            kind = type(node)
            if parent is tree:
                self.functions_before[id(node)] = functions
            if isinstance(node, ast.stmt):
                indented = self.lines[node.lineno - 1][:1] in (" ", "\t", "\f")
            inner = scope
            if kind is ast.Name or kind is ast.Attribute:
                self._name(node, parent, scope, indented, fstring)
                if kind is ast.Attribute and looks(node.attr):
                    end = self._offset(node.end_lineno, self._column(node.end_lineno, node.end_col_offset))
                    self.identifiers.append((self._name_span(end - len(node.attr), node.attr), node.attr, node))
                    self._note(node, parent, indented, fstring)
                elif kind is ast.Name and looks(node.id):
                    self.identifiers.append((self.span(node), node.id, node))
                    self._note(node, parent, indented, fstring)
            elif kind is ast.Constant:
                if isinstance(node.value, str):
                    self._string(node, parent, indented, fstring)
                continue
            elif kind is ast.JoinedStr:
                if _mentions(self.plan.strings, self._text(self.span(node))):
                    raise _Decline
                for child in node.values:
                    if type(child) is ast.FormattedValue:
                        stack.append((child, node, scope, indented, True))
                continue
            elif kind is ast.Assign:
                for target in node.targets:
                    elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                    elements = [e.value if isinstance(e, ast.Starred) else e for e in elements]
                    if all(type(e) is ast.Name for e in elements):
                        self.unscoped.update(id(e) for e in elements)
            elif kind is ast.AnnAssign and type(node.target) is ast.Name:
                self.unscoped.add(id(node.target))
            elif kind is ast.Import or kind is ast.ImportFrom:
                self.imports.append(node)
                if indented:
                    self.indented.update([id(node), *(id(alias) for alias in node.names)])
                continue
            elif kind in _FUNCTIONS or kind is ast.ClassDef:
                if kind is ast.ClassDef and self.markers.name_backends(node.name) - {self.markers.source.name}:
                    self.backend_classes.append(node)
                if looks(node.name):
                    keyword = r"\bclass" if kind is ast.ClassDef else r"\bdef"
                    self.identifiers.append((self._name_after(node, keyword, node.name), node.name, node))
                if kind in _FUNCTIONS:
                    functions += 1
                    inner = functions
                    body = {id(statement) for statement in node.body}
                    for child in reversed(child_nodes(node)):
                        stack.append((child, node, inner if id(child) in body else scope, indented, fstring))
                    continue
            elif kind is ast.arg or kind is ast.keyword:
                name = node.arg
                if name is not None and looks(name):
                    line, column = node.lineno, self._column(node.lineno, node.col_offset)
                    self.identifiers.append((Span(line, column + 1, line, column + len(name)), name, node))
                    self._note(node, parent, indented, fstring)
            elif kind is ast.ExceptHandler:
                if node.name and looks(node.name):
                    self.identifiers.append((self._name_after(node, r"\bas", node.name), node.name, node))
            elif kind is ast.Global or kind is ast.Nonlocal:
                for name in node.names:
                    if looks(name):
                        self.identifiers.append((self._name_after(node, r"[\s,]", name), name, node))
                continue
            elif kind is ast.If:
                self._check_test(node.test)
            elif kind is ast.Match:
                raise _Decline
            for child in reversed(child_nodes(node)):
                stack.append((child, node, inner, indented, fstring))

    def _name(self, node: ast.Name | ast.Attribute, parent: ast.AST, scope: int, indented: bool,
              fstring: bool) -> None:
        if type(node) is ast.Attribute:
            if type(node.value) is ast.Call:
                self.result_attribute[id(node.value)] = node.attr
            if node.attr in self.plan.advice_methods:
                self.sites.append(node)
            if node.attr in self.plan.methods:
                receiver = node.value
                if type(receiver) not in (ast.Name, ast.Attribute) or dotted_text(receiver) is None or \
                        not self._qualified(receiver, scope):
                    raise _Decline  # what a method rule matches: an attribute of something not imported
        if type(parent) is ast.Call and parent.func is node:
            self.calls[id(node)] = parent
        text = dotted_text(node)
        if text is None:
            return
        names = self._qualified(node, scope)
        if not names:
            return
        if any(name in self.plan.editing_apis for name in names):
            raise _Decline
        if any(name in self.plan.advice_apis for name in names):
            self.sites.append(node)
        self.qualified[id(node)] = names
        self.dotted.append(node)
        self._note(node, parent, indented, fstring)

    def _string(self, node: ast.Constant, parent: ast.AST, indented: bool, fstring: bool) -> None:
        if not _mentions(self.plan.strings, node.value):
            return
        if fstring or not _one_literal(self._text(self.span(node))):
            raise _Decline  # libcst reads each literal of `"a" "b"` alone
        if node.value in self.plan.env_names or any(p.fullmatch(node.value) for p in self.plan.device_values):
            raise _Decline
        if type(parent) is not ast.Expr:  # a docstring, or any string statement
            self.strings.append(node)
            self._note(node, parent, indented, fstring)

    def _note(self, node: ast.AST, parent: ast.AST, indented: bool, fstring: bool) -> None:
        """What the text of a node that may get a finding depends on."""
        self.parents[id(node)] = parent
        if indented:
            self.indented.add(id(node))
        if fstring:
            self.in_fstring.add(id(node))

    def _check_test(self, test: ast.expr) -> None:
        """backend_dispatch explains a condition chain whose test names the target backend, edits or not."""
        markers, target = self.markers, self.markers.target
        for node in nodes(test):
            kind = type(node)
            name = node.id if kind is ast.Name else node.attr if kind is ast.Attribute else \
                node.arg if kind is ast.keyword or kind is ast.arg else None
            if name is not None and target in markers.name_backends(name, dispatch_only=True):
                raise _Decline
            if kind is ast.Constant and isinstance(node.value, str) and target in markers.value_backends(node.value):
                raise _Decline

    # -- what each kind would find --------------------------------------------------------------------------------
    def _qualified(self, node: ast.AST, scope: int) -> list[str]:
        bound = self.names.import_bound
        root = node
        while type(root) is ast.Attribute:
            root = root.value
        if type(root) is not ast.Name or root.id not in bound or id(node) in self.unscoped:
            return []
        known = self.names.imports.qualified(dotted_text(node), scope)
        if known is None and root.id in self.unread:
            return []  # no rule matches it; a method rule asking whether it is imported declines
        if known is None:
            raise _Decline  # libcst's scope analysis decides
        return sorted(known)

    def findings(self, tree: ast.Module) -> list[Finding]:
        self._walk(tree)
        self.dotted.sort(key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))
        spans = [self.span(node) for node in self.dotted]  # read by every rename rule
        found: list[tuple[tuple, Finding]] = []  # (the order libcst records it in, the finding)
        order = 0
        for rule, entries, report in self.plan.renames:
            found += self._renames(rule, entries, report, spans, order)
            order += 1
        for rule, entries in self.plan.imports:
            found += self._imports(rule, entries, order)
            order += 1
        covers = {}  # id() of a finding -> the span it covers for the kinds after it, where not its own
        for key, finding, cover in self._advice(tree, order):
            found.append((key, finding))
            covers[id(finding)] = cover
        order += len(fragments.KINDS)
        for rule in self.plan.residuals:
            others = sorted(((key, covers.get(id(f), f.span)) for key, f in found), key=lambda item: item[0])
            found += self._residual(rule, others, order)
            order += 1
        found.sort(key=lambda item: item[0])
        findings = [finding for _, finding in found]
        for node in self.backend_classes:
            self._left_alone(node, findings)
        return findings

    def _left_alone(self, node: ast.ClassDef, findings: list[Finding]) -> None:
        """backend_implementation vetoes a class named for another backend: it drops the findings inside and
        explains the class in their place. Where the class (its decorators included) holds no finding, the veto
        changes nothing; else libcst decides."""
        first, last = first_line(node), node.end_lineno
        if any(f.span is not None and f.span.line <= last and f.span.end_line >= first for f in findings):
            raise _Decline

    def _advice(self, tree: ast.Module, order: int) -> list[tuple[tuple, Finding, Span]]:
        """(key, finding, what it covers) for the advice on the uses in `self.sites`, from libcst over the
        top-level definitions that hold them (a use in a top-level simple statement reads the module's block:
        declined). A finding is recorded where the span it covers starts (a call's advice at its callee)."""
        if not self.sites:
            return []
        starts = [first_line(statement) for statement in tree.body]
        held = sorted({bisect_right(starts, node.lineno) - 1 for node in self.sites})
        if any(not isinstance(getattr(tree.body[index], "body", None), list) for index in held):
            raise _Decline
        definitions = [tree.body[index] for index in held]
        before = [self.functions_before[id(definition)] for definition in definitions]
        try:
            advised = fragments.advice(self.lines, definitions, before, self.ruleset, self.names, self.unread,
                                       self.local_modules)
        except fragments.NeedsModule:
            raise _Decline from None
        kinds = {rule.id: order + fragments.KINDS.index(rule.kind) for rule in self.ruleset.of_kind(*fragments.KINDS)}
        return [(_key(cover, kinds[finding.rule_id]), finding, cover) for finding, cover in advised]

    def _renames(self, rule: Rule, entries: dict[str, Entry], report: dict[str, Entry], spans: list[Span],
                 order: int) -> list[tuple[tuple, Finding]]:
        found, inside = [], None  # the span of the last match: nothing inside it is matched again
        for node, span in zip(self.dotted, spans):
            names = self.qualified[id(node)]
            if inside is not None and (span.line, span.column) >= (inside.line, inside.column) and (
                    span.end_line, span.end_column) <= (inside.end_line, inside.end_column):
                continue
            for name in names:
                entry = entries.get(name) or (entry_matches(report, name) if report else None)
                if entry is None:
                    continue
                inside = span
                if id(node) in self.in_fstring:
                    raise _Decline
                if len(names) > 1:
                    others = ", ".join(q for q in names if q != name)
                    message = (f"`{dotted_text(node)}` is bound by imports from several modules (also {others}): a "
                               "backend or version fallback chain, left as it is")
                    status = Status.REVIEW
                else:
                    call = self.calls.get(id(node))
                    entry = entries.get(f"{name}().{self.result_attribute.get(id(call))}") or entry
                    if entry.replacement is not None:
                        raise _Decline
                    message, status = entry.message or rule.summary, STATUS_OF_ENTRY[entry.status]
                finding = Finding(rule.id, rule.category, status, message, span, self._expression_text(node))
                found.append((_key(span, order), finding))
                break
        return found

    def _imports(self, rule: Rule, entries: dict[str, Entry], order: int) -> list[tuple[tuple, Finding]]:
        found = []

        def check(node: ast.AST, module: str, separator: str) -> None:
            if module.split(".")[0] in self.local_modules:
                return
            entry = entry_matches(entries, module)
            if entry is not None:
                span = self.span(node)
                finding = Finding(rule.id, rule.category, STATUS_OF_ENTRY[entry.status], entry.message or rule.summary,
                                  span, self._statement_text(node, separator))
                found.append((_key(span, order), finding))

        for node in self.imports:
            if type(node) is ast.Import:
                for alias in node.names:
                    check(alias, alias.name, ",")
            elif not node.level and node.module is not None:
                if entry_matches(entries, node.module):
                    check(node, node.module, ";")
                else:
                    for alias in node.names:
                        if alias.name != "*":
                            check(alias, f"{node.module}.{alias.name}", ",")
        return found

    def _residual(self, rule: Rule, others: list[tuple[tuple, Span]], order: int) -> list[tuple[tuple, Finding]]:
        """`others`: (key, covered span) of what the kinds before it found, in order."""
        identifier, string = re.compile(rule.contexts["identifier"]), re.compile(rule.contexts["string"])
        prefixes = tuple(rule.contexts.get("api_prefixes", ()))
        candidates = []  # (span, what: an identifier's name or the node, original or None, message)
        for node in self.imports:
            if type(node) is ast.Import:
                for alias in node.names:
                    if identifier.search(alias.name):
                        candidates.append((self.span(alias), alias, self._statement_text(alias, ","), (
                            f"imports `{alias.name}`, which looks CUDA-specific; check what it does on NPU")))
                continue
            module = "." * node.level + (node.module or "")
            if node.module is not None and identifier.search(module):
                candidates.append((self.span(node), node, self._statement_text(node, ";"), (
                    f"imports from `{module}`, which looks CUDA-specific; check what the imported names do on NPU")))
            for alias in node.names:
                name = alias.asname or alias.name
                if name == "*" or not identifier.search(name):
                    continue
                if alias.asname is None:
                    line, column = alias.lineno, self._column(alias.lineno, alias.col_offset)
                    candidates.append((Span(line, column + 1, line, column + len(name)), name, alias, None))
                else:
                    candidates.append((self._name_after(alias, r"\bas", name), name, alias, None))
        for node in self.dotted:
            if type(node) is not ast.Attribute or identifier.search(node.attr):
                continue
            names = self.qualified.get(id(node)) or ()
            matching = [q for q in names if q.startswith(prefixes)]
            if matching:
                if len(names) > 1:
                    raise _Decline  # libcst reports the first of a set, in no fixed order
                candidates.append((self.span(node), node, None,
                                   f"`{matching[0]}` has no mapping in porter's rules: check it by hand"))
        for span, name, node in self.identifiers:
            if identifier.search(name):
                candidates.append((span, name, node, None))
        for node in self.strings:
            if string.search(node.value) and not any(c.isspace() for c in node.value):
                candidates.append((self.span(node), node, None, f"string {self._text(self.span(node))} looks "
                                   "CUDA-specific but is not used as a device here; check it"))
        candidates.sort(key=lambda c: (c[0].line, c[0].column, -c[0].end_line, -c[0].end_column))
        covered = Containers(len(self.lines))
        reported: set[str] = set()
        found, taken = [], 0
        for span, what, original, message in candidates:
            key = _key(span, order)
            while taken < len(others) and others[taken][0] < key:
                covered.add(others[taken][1])
                taken += 1
            if isinstance(what, str):  # an identifier: `original` is the node it is read from
                if what in reported or covered.contains(span):
                    continue
                if id(original) in self.in_fstring:
                    raise _Decline
                if type(original) is ast.Name:
                    self._expression_text(original)  # declines a parenthesised name, whose libcst code differs
                reported.add(what)
                message = f"identifier `{what}` looks CUDA-specific (first use in this file); check what it controls"
                original = what
            elif covered.contains(span):
                continue
            elif original is None:
                if id(what) in self.in_fstring:
                    raise _Decline
                original = self._expression_text(what)
            covered.add(span)
            found.append((key, Finding(rule.id, rule.category, Status.UNKNOWN, message, span, original)))
        return found


def _key(span: Span, order: int) -> tuple:
    """Where libcst's batched walk records a finding: a node's before its children's, and kind by kind."""
    return span.line, span.column, -span.end_line, -span.end_column, order


def _mentions(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(pattern.search(text) for pattern in patterns)


def _one_literal(text: str) -> bool:
    """Whether `text` is one string literal (not `"a" "b"`, which the stdlib tree joins into one constant)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return False
    return len(tokens) == 1 and tokens[0].type == tokenize.STRING
