"""The Python frontend: one libcst parse per file, every rule kind proposes edits in one batched pass, then apply."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper

from porter.findings import Finding, Status
from porter.python.base import CallIndex, Edit, Proposals, import_bound_names
from porter.python.calls import CallTransformVisitor
from porter.python.imports_add import add_imports
from porter.python.envvars import EnvVarVisitor
from porter.python.imports import ImportVisitor
from porter.python.methods import MethodVisitor
from porter.python.renames import RenameVisitor
from porter.python.residual import ResidualVisitor
from porter.python.strings import ContextStringVisitor
from porter.python.unused_imports import drop_names, findings_outside_dropped, unused_after_edits
from porter.ruleset import RuleSet

# Order matters within the batch: a node's residual check must see what the other kinds already claimed.
VISITOR_FOR_KIND = {
    "rename": RenameVisitor,
    "context_string": ContextStringVisitor,
    "method": MethodVisitor,
    "import": ImportVisitor,
    "env_var": EnvVarVisitor,
    "call_transform": CallTransformVisitor,
    "residual": ResidualVisitor,
}


class _ApplyEdits(cst.CSTTransformer):
    def __init__(self, edits: list[Edit]) -> None:
        super().__init__()
        self.edits: dict[int, Edit] = {}
        for edit in edits:
            self.edits.setdefault(id(edit.node), edit)

    def on_leave(self, original_node, updated_node):
        edit = self.edits.get(id(original_node))
        return edit.rewrite(updated_node) if edit is not None else updated_node


def _module_level_imports(statements) -> set[str]:
    """Modules imported at module level, looking inside `try`/`if`/`with` blocks but not into functions/classes."""
    names = set()
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import):
                    names.update(cst.helpers.get_full_name_for_node(a.name) for a in small.names)
        elif isinstance(statement, (cst.Try, cst.If, cst.With, cst.Else, cst.Finally, cst.ExceptHandler)):
            names |= _module_level_imports(statement.body.body)
            for branch in (getattr(statement, "orelse", None), getattr(statement, "finalbody", None),
                           *getattr(statement, "handlers", ())):
                if branch is not None:
                    names |= _module_level_imports([branch])
    return names


def _support_import_finding(ruleset: RuleSet, module: cst.Module) -> tuple[str | None, Finding | None]:
    for rule in ruleset.of_kind("support_import"):
        for entry in rule.entries:
            if entry.pattern not in _module_level_imports(module.body):
                finding = Finding(rule.id, rule.category, Status.CONVERTED, entry.message or rule.summary,
                                  original="", replacement=f"import {entry.pattern}")
                return entry.pattern, finding
    return None, None


def port_python(source: str, ruleset: RuleSet, local_modules: frozenset[str] = frozenset()
                ) -> tuple[str | None, list[Finding]]:
    """Port one module's source. Returns the new source (None when nothing changes) and the findings.

    `local_modules`: the repository's own top-level modules, which import rules never treat as third party.

    Raises libcst.ParserSyntaxError for code that is not valid Python 3.
    """
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    proposals = Proposals(edits=[], findings=[], covered=[], import_bound=import_bound_names(source), call_funcs={},
                          local_modules=local_modules)
    visitors = [CallIndex(proposals)] + [
        VISITOR_FOR_KIND[kind](rule, proposals)
        for kind in VISITOR_FOR_KIND
        for rule in ruleset.of_kind(kind)
    ]
    wrapper.visit_batched(visitors)
    findings = sorted(proposals.findings, key=lambda f: (f.span.line, f.span.column) if f.span else (0, 0))
    if not proposals.edits:
        return None, findings

    unused = {name for edit in proposals.edits for name in edit.unused_bindings}
    if unused:
        edited = [edit.node for edit in proposals.edits]
        unused = {name for name in unused if unused_after_edits(wrapper, {name}, edited)}  # every use rewritten
        statements = unused_after_edits(wrapper, unused, edited)
        for statement in statements:
            proposals.edits.append(Edit(statement, lambda updated: drop_names(updated, unused), adds_import=False))
        findings = findings_outside_dropped(findings, wrapper, statements, unused)
    module = wrapper.module.visit(_ApplyEdits(proposals.edits))
    needed = {name for edit in proposals.edits for name in edit.needs_imports}
    support, finding = _support_import_finding(ruleset, module)
    if support is not None and any(edit.adds_import for edit in proposals.edits):
        needed.add(support)
        findings.insert(0, finding)
    module = add_imports(module, sorted(needed))
    new_source = module.code
    return (new_source if new_source != source else None), findings
