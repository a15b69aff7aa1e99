"""Dropping import bindings that a rewrite left unused, from the scope analysis the rule pass already did."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, ImportAssignment, PositionProvider, ScopeProvider
from libcst.metadata import MetadataWrapper


def _inside(inner: CodeRange, outer: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)


def unused_after_edits(wrapper: MetadataWrapper, names: set[str], edited: list[cst.CSTNode]) -> list[cst.CSTNode]:
    """The import statements binding `names` whose every use lies inside an edited node."""
    positions = wrapper.resolve(PositionProvider)
    edited_ranges = [positions[node] for node in edited]
    statements: dict[int, cst.CSTNode] = {}
    for scope in set(wrapper.resolve(ScopeProvider).values()):
        if scope is None:
            continue
        for name in names:
            assignments = list(scope.assignments[name]) if name in scope.assignments else []
            if len(assignments) != 1 or not isinstance(assignments[0], ImportAssignment):
                continue  # bound twice: a fallback chain (`try: ... except ImportError: ...`) keeps every arm
            uses = [access.node for a in assignments for access in a.references]
            if all(any(_inside(positions[use], r) for r in edited_ranges) for use in uses):
                statements.update((id(a.node), a.node) for a in assignments)
    return list(statements.values())


def drop_names(statement: cst.Import | cst.ImportFrom, names: set[str]):
    """The import statement without the aliases binding `names`; removed altogether when none is left."""
    if isinstance(statement.names, cst.ImportStar):
        return statement
    kept = [alias for alias in statement.names if _bound_name(alias) not in names]
    if not kept:
        return cst.RemoveFromParent()
    kept[-1] = kept[-1].with_changes(comma=statement.names[-1].comma)  # keeps a parenthesised list's trailing comma
    return statement.with_changes(names=kept)


def _bound_name(alias: cst.ImportAlias) -> str:
    if alias.asname is not None:
        return alias.asname.name.value
    return cst.helpers.get_full_name_for_node(alias.name).split(".")[0]


def findings_outside_dropped(findings: list, wrapper: MetadataWrapper, statements: list[cst.CSTNode],
                             names: set[str]) -> list:
    """The findings minus those on imports `drop_names` removes (a report of a line the port deleted is stale)."""
    positions = wrapper.resolve(PositionProvider)
    dropped = []
    for statement in statements:
        aliases = [] if isinstance(statement.names, cst.ImportStar) else list(statement.names)
        gone = [alias for alias in aliases if _bound_name(alias) in names]
        dropped += [positions[statement]] if len(gone) == len(aliases) else [positions[a] for a in gone]

    def inside_dropped(finding) -> bool:
        span = finding.span
        return span is not None and any(
            (r.start.line, r.start.column + 1) <= (span.line, span.column)
            and (span.end_line, span.end_column) <= (r.end.line, r.end.column) for r in dropped)

    return [finding for finding in findings if not inside_dropped(finding)]

