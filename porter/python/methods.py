"""Rule kind `method`: an attribute or method on any object (`x.cuda()`, `x.is_cuda`), not on an imported module.

A pattern ending in `()` matches only when called, so a plain `self.cuda = True` flag is left alone. An attribute
the module itself assigns (`self.is_cuda = ...`, matched with its receiver) or defines (`def cuda(self)`) is the code's own: never renamed.
"""

from __future__ import annotations

import libcst as cst

from porter.python.base import RuleVisitor, code_of


class MethodVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        self.called = {e.pattern[:-2]: e for e in rule.entries if e.pattern.endswith("()")}
        self.plain = {e.pattern: e for e in rule.entries if not e.pattern.endswith("()")}

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = node.attr.value
        entry = self.plain.get(name)
        if entry is not None and code_of(node) in self.proposals.own_attributes:
            entry = None
        if entry is None and name in self.called and self.is_called(node) and name not in self.proposals.own_functions:
            entry = self.called[name]
        receiver = node.value
        if entry is None or (isinstance(receiver, (cst.Name, cst.Attribute)) and self.is_imported(receiver)):
            return  # `torch.cuda`, `numba.cuda`: an attribute of an imported module, not of a tensor
        if entry.replacement is None:
            self.record(node, entry, self.rule.summary)
            return
        new_attr = cst.Name(entry.replacement)
        replacement = node.with_changes(attr=new_attr)
        rewrite = lambda updated: updated.with_changes(attr=new_attr)  # noqa: E731
        self.record(node, entry, self.rule.summary, rewrite, code_of(replacement))
