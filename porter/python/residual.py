"""Rule kind `residual`: whatever still looks CUDA-specific after every other rule ran is reported, never left silently.

Patterns are data (rule `contexts`): `identifier` and `string` regexes, `api_prefixes` for unmapped qualified APIs.
Comments and docstrings are never looked at; strings with whitespace are prose (log text), not code.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.helpers import get_full_name_for_node

from porter.findings import Status
from porter.python.base import RuleVisitor, code_of, string_value
from porter.ruleset import Entry

_REPORT = Entry(pattern="*", status="review")


class ResidualVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        ctx = rule.contexts
        self.identifier = re.compile(ctx["identifier"])
        self.string = re.compile(ctx["string"])
        self.api_prefixes = tuple(ctx.get("api_prefixes", ()))
        self.reported_identifiers: set[str] = set()
        self.docstrings: set[int] = set()
        self.inside_import = 0

    def _report(self, node: cst.CSTNode, message: str) -> bool:
        if self.proposals.covers(self.span(node)):
            return False
        self.record(node, _REPORT, message, status=Status.UNKNOWN)
        return True

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for statement in node.body:
            if isinstance(statement, cst.Expr) and isinstance(statement.value, (cst.SimpleString, cst.ConcatenatedString)):
                self.docstrings.add(id(statement.value))

    def visit_Import(self, node: cst.Import) -> None:
        self.inside_import += 1
        for alias in node.names:
            module = get_full_name_for_node(alias.name)
            if self.identifier.search(module):
                self._report(alias, f"imports `{module}`, which looks CUDA-specific; check what it does on NPU")

    def leave_Import(self, original_node: cst.Import) -> None:
        self.inside_import -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.inside_import += 1
        module = "." * len(node.relative) + (get_full_name_for_node(node.module) if node.module else "")
        if node.module is not None and self.identifier.search(module):
            self._report(node, f"imports from `{module}`, which looks CUDA-specific; check what the imported "
                               "names do on NPU")
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                self._identifier(alias.name if alias.asname is None else alias.asname.name)

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self.inside_import -= 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.inside_import or self.import_rooted(node) is None:  # `f(...).attr` is judged by its own parts
            return
        for qualified in self.imported_names(node):
            if qualified.startswith(self.api_prefixes) and self.identifier.search(node.attr.value) is None:
                self._report(node, f"`{qualified}` has no mapping in porter's rules: check it by hand")
                return

    def visit_Name(self, node: cst.Name) -> None:
        if not self.inside_import:
            self._identifier(node)

    def _identifier(self, node: cst.CSTNode) -> None:
        if not isinstance(node, cst.Name) or node.value in self.reported_identifiers:
            return
        if not self.identifier.search(node.value):
            return
        if self._report(node, f"identifier `{node.value}` looks CUDA-specific (first use in this file); check what it controls"):
            self.reported_identifiers.add(node.value)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        text = "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
        if self.string.search(text) and not any(c.isspace() for c in text):
            self._report(node, f"f-string {code_of(node)} looks CUDA-specific but is not used as a device here; check it")

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if id(node) in self.docstrings:
            return
        value = string_value(node)
        if isinstance(value, str) and self.string.search(value) and not any(c.isspace() for c in value):
            self._report(node, f"string {node.value} looks CUDA-specific but is not used as a device here; check it")
