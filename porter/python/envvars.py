"""Rule kind `env_var`: a string literal naming a CUDA/NCCL environment variable maps to its Ascend/HCCL twin."""

from __future__ import annotations

import libcst as cst

from porter.python.base import RuleVisitor, code_of, string_value


class EnvVarVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        self.entries = {e.pattern: e for e in rule.entries}

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = string_value(node)
        entry = self.entries.get(value) if isinstance(value, str) else None
        if entry is None:
            return
        if entry.replacement is None:
            self.record(node, entry, self.rule.summary)
            return
        new_node = node.with_changes(value=node.value.replace(value, entry.replacement))
        self.record(node, entry, self.rule.summary, lambda _u: new_node, code_of(new_node))
