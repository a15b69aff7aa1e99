"""The Python frontend: one libcst parse per file, every rule kind proposes edits in one batched pass, then apply."""

from __future__ import annotations

import functools

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, ScopeProvider

from porter.findings import Finding, Status
from porter.python.base import (CallIndex, Edit, ModuleNames, Proposals, apply_edits, parse_unchecked, scan_names,
                                unread_imports)
from porter.python.imports_add import add_imports
from porter.python.positions import resolve_positions
from porter.python.prefilter import triggers_of
from porter.python.report_only import report_only
from porter.python.safety import ModuleContext, apply_safety, structure_walk
from porter.python.visitors import rule_visitors
from porter.python.walk import read_only_visits, visit_batched
from porter.python.unused_imports import drop_names, findings_outside_dropped, unused_after_edits
from porter.ruleset import RuleSet


def _imported_roots(module: cst.Module) -> frozenset[str]:
    """First segments of every absolute module any import statement of the module (functions included) names."""
    roots = set()
    for node in m.findall(module, m.Import() | m.ImportFrom()):
        if isinstance(node, cst.Import):
            roots.update(cst.helpers.get_full_name_for_node(a.name).split(".")[0] for a in node.names)
        elif not node.relative and node.module is not None:
            roots.add(cst.helpers.get_full_name_for_node(node.module).split(".")[0])
    return frozenset(roots)


def _imports_torch_unconditionally(module: cst.Module) -> bool:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import) and any(
                        cst.helpers.get_full_name_for_node(a.name).split(".")[0] == "torch" for a in small.names):
                    return True
    return False


def _support_import(ruleset: RuleSet, module: cst.Module, relpath: str,
                    imported_roots: frozenset[str] | None) -> tuple[str | None, Finding | None]:
    """The support import to add, or a finding saying why it is not added here (never twice, never into a build
    script, only beside an unconditional module-level `import torch`). `imported_roots`: from the first scan, or
    None when it could not tell."""
    roots = _imported_roots(module) if imported_roots is None else imported_roots
    for rule in ruleset.of_kind("support_import"):
        for entry in rule.entries:
            if entry.pattern in roots:
                continue
            build = relpath.rsplit("/", 1)[-1] in rule.contexts.get("build_scripts", ()) or any(
                m in roots for m in rule.contexts.get("build_modules", ()))
            if build or not _imports_torch_unconditionally(module):
                why = "a build script" if build else "a module without an unconditional top-level `import torch`"
                return None, Finding(rule.id, rule.category, Status.REVIEW,
                                     f"not added to {why}: make sure `{entry.pattern}` is imported before this "
                                     f"code uses the NPU", original="")
            finding = Finding(rule.id, rule.category, Status.CONVERTED, entry.message or rule.summary,
                              original="", replacement=f"import {entry.pattern}")
            return entry.pattern, finding
    return None, None


def _scopes(wrapper: MetadataWrapper, names: ModuleNames, unread: frozenset[str]):
    """node -> its libcst scope. The analysis runs now, before the rule pass, unless the import table answers
    every imported name some rule reads (most modules); then only on a question the table cannot answer (a name
    libcst cannot spell, whether a name no rule reads is imported at all), since running it from deep inside the
    rule pass's recursion costs more."""
    resolve = functools.cache(lambda: wrapper.resolve(ScopeProvider))
    if names.imports is None or names.import_bound is None or \
            not names.imports.answers_every(names.import_bound, unread):
        resolve()
    return lambda node: resolve().get(node)


def port_python(source: str, ruleset: RuleSet, local_modules: frozenset[str] = frozenset(),
                context: ModuleContext = ModuleContext()) -> tuple[str | None, list[Finding]]:
    """Port one module's source. Returns the new source (None when nothing changes) and the findings.

    `local_modules`: the repository's own top-level modules, which import rules never treat as third party.
    `context`: where the module lives and what the repository around it supports (for the safety policies).

    Raises libcst.ParserSyntaxError for code that is not valid Python 3.
    """
    findings = report_only(source, ruleset, local_modules, context)
    if findings is not None:  # nothing to edit: the stdlib tree gave the same findings for a fraction of the cost
        return None, findings
    return port_with_libcst(source, ruleset, local_modules, context)


def port_with_libcst(source: str, ruleset: RuleSet, local_modules: frozenset[str] = frozenset(),
                     context: ModuleContext = ModuleContext()) -> tuple[str | None, list[Finding]]:
    """`port_python` without the stdlib-tree path (porter.python.report_only), which answers for it only where
    the answer is the same."""
    with read_only_visits():
        return _port(source, ruleset, local_modules, context)


def _port(source: str, ruleset: RuleSet, local_modules: frozenset[str],
          context: ModuleContext) -> tuple[str | None, list[Finding]]:
    wrapper = MetadataWrapper(parse_unchecked(source), unsafe_skip_copy=True)
    positions = resolve_positions(wrapper)
    names = scan_names(source)
    unread = unread_imports(names, triggers_of(ruleset).read)
    support = frozenset(e.pattern for r in ruleset.of_kind("support_import") for e in r.entries)
    proposals = Proposals.of_module(source.count("\n") + 1, names, unread, local_modules,
                                    _scopes(wrapper, names, unread), support)
    visitors = [CallIndex(proposals), *rule_visitors(ruleset, proposals)]
    walk = structure_walk(ruleset, names.import_bound)
    visit_batched(wrapper, visitors if walk is None else [*visitors, walk])
    if walk is not None:
        apply_safety(walk, source, proposals, ruleset, context)
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
    module = apply_edits(wrapper.module, proposals.edits, positions)
    needed = {name for edit in proposals.edits for name in edit.needs_imports}
    if any(edit.adds_import for edit in proposals.edits):
        support, finding = _support_import(ruleset, wrapper.module, context.relpath, names.imported_roots)
        if support is not None:
            needed.add(support)
        if finding is not None:
            findings.insert(0, finding)
    needed = {name for name in needed if not any(other.startswith(name + ".") for other in needed)}  # binds it too
    module = add_imports(module, sorted(needed))
    new_source = module.code if positions is None else positions.code(module)
    return (new_source if new_source != source else None), findings
