"""Rule kind `context_string`: a string literal changes only where the code uses it as a device (or backend).

The contexts are data (rule `contexts`): keyword names, callables with the positional index of their device
argument, method names, and a regex for names whose assignments, comparisons, defaults and look-ups carry the value.
"""

from __future__ import annotations

import re

import libcst as cst

from porter.python.base import RuleVisitor, code_of, string_value

_COMPARISON_OPS = (cst.Equal, cst.NotEqual, cst.In, cst.NotIn, cst.Is, cst.IsNot)


def _string_candidates(expr: cst.BaseExpression):
    """String literals whose value becomes the value of `expr` (through conditionals, `or`, containers, `+`)."""
    if isinstance(expr, (cst.SimpleString, cst.FormattedString)):
        yield expr
    elif isinstance(expr, cst.IfExp):
        yield from _string_candidates(expr.body)
        yield from _string_candidates(expr.orelse)
    elif isinstance(expr, cst.BooleanOperation):
        yield from _string_candidates(expr.left)
        yield from _string_candidates(expr.right)
    elif isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
        for element in expr.elements:
            yield from _string_candidates(element.value)
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        yield from _string_candidates(expr.left)


def _plain_code(node: cst.CSTNode) -> str | None:
    """The code of a name, a string or a chain of names with nothing around or between them (most targets,
    parameters and operands a rule's name pattern reads), read off the nodes: generating it costs more than the
    match. None for anything else."""
    parts = []
    while type(node) is cst.Attribute and not node.lpar and _tight(node.dot.whitespace_before) \
            and _tight(node.dot.whitespace_after):
        parts.append(node.attr.value)
        node = node.value
    if type(node) not in (cst.Name, cst.SimpleString) or node.lpar:
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _tight(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    return type(whitespace) is cst.SimpleWhitespace and not whitespace.value


def device_value(rule) -> re.Pattern[str]:
    """A value a context_string rule ports, alone or with a device index (`cuda`, `cuda:0`, `cuda:{rank}`), to
    fullmatch; group 1 is the entry's pattern."""
    alternatives = "|".join(re.escape(e.pattern) for e in sorted(rule.entries, key=lambda e: len(e.pattern),
                                                                 reverse=True))
    return re.compile(rf"({alternatives})(:(\d*|\{{[^{{}}]*\}}|%[ds]))?")


class ContextStringVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        ctx = rule.contexts
        self.keywords = set(ctx.get("keywords", ()))
        self.calls = dict(ctx.get("calls", {}))
        self.methods = dict(ctx.get("methods", {}))
        self.name_methods = dict(ctx.get("name_methods", {}))  # only on a receiver named like a device
        self.names = re.compile(ctx["names"]) if ctx.get("names") else None
        self.values = {e.pattern: e for e in rule.entries}
        self.value_re = device_value(rule)
        self.seen: set[int] = set()

    def _names_match(self, node: cst.CSTNode) -> bool:
        if self.names is None:
            return False
        return bool(self.names.search(_plain_code(node) or code_of(node)))

    def _string_name_match(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.SimpleString) and self._names_match(node)

    def visit_Call(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        index = self._device_arg_index(node.func)
        if index is not None and index < len(positional):
            self._use(positional[index].value)
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in self.keywords:
                self._use(arg.value)
        if any(self._string_name_match(a.value) for a in positional):  # e.g. add_argument("--device", default=...)
            for arg in node.args:
                if not self._string_name_match(arg.value):
                    self._use(arg.value)

    def _device_arg_index(self, func: cst.BaseExpression) -> int | None:
        for qualified in self.imported_names(func):
            if qualified in self.calls:
                return self.calls[qualified]
        if isinstance(func, cst.Attribute) and func.attr.value in self.methods:
            return self.methods[func.attr.value]
        if isinstance(func, cst.Attribute) and func.attr.value in self.name_methods and self._names_match(func.value):
            return self.name_methods[func.attr.value]
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(self._names_match(t.target) for t in node.targets):
            self._use(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and self._names_match(node.target):
            self._use(node.value)

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None and self._names_match(node.name):
            self._use(node.default)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if self._string_name_match(node.key):
            self._use(node.value)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        operands = [node.left, *(c.comparator for c in node.comparisons)]
        for i, comparison in enumerate(node.comparisons):
            if not isinstance(comparison.operator, _COMPARISON_OPS):
                continue
            left, right = operands[i], operands[i + 1]
            if self._names_match(left) and not self._names_match(right):
                self._use(right)
            elif self._names_match(right) and not self._names_match(left):
                self._use(left)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._names_match(node.name):
            for ret in _returns(node.body):
                self._use(ret)

    def _use(self, expr: cst.BaseExpression) -> None:
        for literal in _string_candidates(expr):
            if id(literal) in self.seen:
                continue
            self.seen.add(id(literal))
            rewritten = self._rewrite(literal)
            if rewritten is not None:
                entry, new_node = rewritten
                if entry.replacement is None:
                    self.record(literal, entry, self.rule.summary)
                else:  # rewritten again at apply time: an f-string's placeholders may carry edits of their own
                    self.record(literal, entry, self.rule.summary, lambda updated: self._rewrite(updated)[1],
                                code_of(new_node))

    def _rewrite(self, literal):
        if isinstance(literal, cst.SimpleString):
            value = string_value(literal)
            match = self.value_re.fullmatch(value) if isinstance(value, str) else None
            if match is None or "\\" in literal.value:
                return None
            entry = self.values[match.group(1)]
            if entry.replacement is None:
                return entry, literal
            prefix_len = len(literal.prefix) + len(literal.quote)
            body = literal.value[prefix_len : len(literal.value) - len(literal.quote)]
            return entry, literal.with_changes(
                value=literal.value[:prefix_len] + entry.replacement + body[len(match.group(1)) :] + literal.quote
            )
        first = literal.parts[0] if literal.parts else None
        if not isinstance(first, cst.FormattedStringText):
            return None
        match = self.value_re.fullmatch(first.value)
        if match is None:
            return None
        entry = self.values[match.group(1)]
        if entry.replacement is None:
            return entry, literal
        new_first = first.with_changes(value=entry.replacement + first.value[len(match.group(1)) :])
        return entry, literal.with_changes(parts=[new_first, *literal.parts[1:]])


def _returns(body: cst.BaseSuite):
    """Return values in a function body, not descending into nested functions or classes."""
    collector = _Returns()
    body.visit(collector)
    return collector.found


class _Returns(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.BaseExpression] = []

    def visit_FunctionDef(self, node):
        return False

    def visit_ClassDef(self, node):
        return False

    def visit_Return(self, node):
        if node.value is not None:
            self.found.append(node.value)
