"""Rule kind `import`: imports of CUDA-only libraries are reported with their Ascend route (never rewritten here)."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from porter.python.base import RuleVisitor, entry_matches


class ImportVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        self.entries = {e.pattern: e for e in rule.entries}

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._check(alias, get_full_name_for_node(alias.name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = get_full_name_for_node(node.module)
        if entry_matches(self.entries, module):
            self._check(node, module)
        elif not isinstance(node.names, cst.ImportStar):  # `from torch.utils import cpp_extension`
            for alias in node.names:
                self._check(alias, f"{module}.{get_full_name_for_node(alias.name)}")

    def _check(self, node: cst.CSTNode, module: str | None) -> None:
        if not module or module.split(".")[0] in self.proposals.local_modules:  # the repository's own code
            return
        entry = entry_matches(self.entries, module)
        if entry is not None:
            self.record(node, entry, self.rule.summary)
