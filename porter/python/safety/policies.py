"""The safety policies, one function per rule kind of rules/backends.yaml, run in the order of `POLICIES`."""

from __future__ import annotations

import ast
from collections import defaultdict

import libcst as cst

from porter.findings import Span
from porter.python.base import apply_edits, code_of
from porter.python.safety.structure import inside, joined
from porter.python.safety.veto import Safety
from porter.python.strings import device_value


def backend_implementation(s: Safety, rule) -> None:
    source = s.markers.source.name
    module = s.structure.module_span
    others = s.markers.path_backends(s.context.relpath) - {source}
    if others:
        s.veto(module, rule, f"this file implements {', '.join(sorted(others))}: porter leaves it alone", True)
        return
    for d in s.structure.definitions:
        named = s.markers.name_backends(d.name) - {source}
        if d.kind == "class" and named:
            s.veto(d.span, rule, f"class `{d.name}` implements {', '.join(sorted(named))}: left alone", True)
    if not s.multi_backend():
        return
    why = "keeps its CUDA meaning in a repository that also supports other backends: its callers choose the backend"
    if source in s.markers.path_backends(s.context.relpath):
        s.veto(module, rule, f"this file is named for CUDA and {why}")
        return
    for d in s.structure.definitions:
        if source in s.markers.name_backends(d.name) and not s.is_vetoed(d.span):
            s.veto(d.span, rule, f"`{d.name}` is named for CUDA and {why}")


def backend_dispatch(s: Safety, rule) -> None:
    source, target = s.markers.source.name, s.markers.target
    for group in s.structure.dispatch_groups:
        named = [s.backends_in(branch.test_span) for branch in group.branches]
        others = set().union(*named)
        if not others or s.is_vetoed(group.span):
            continue
        switch = f"line {group.span.line}: `{s.first_line(group.span)}`"
        if target in others:
            s.veto(group.span, rule, f"the code already selects {target} here ({switch}); select it through this "
                                     "switch: porter leaves the chain alone", announce=True)
            continue
        for branch, names in zip(group.branches, named):
            if names:
                s.veto(joined(branch.test_span, branch.body_span), rule,
                       f"branch of {', '.join(sorted(names))} in a backend switch ({switch}): left alone")
    for choice in s.structure.choices:  # `"cuda" if is_torch_xla_available(check_is_gpu=True) else ...`
        named = s.backends_in(choice.test_span)
        if named and not s.is_vetoed(choice.body_span):
            s.veto(choice.body_span, rule, f"the value chosen when {', '.join(sorted(named))} is in use "
                                           f"(line {choice.test_span.line}): left alone")
    for span, literals in s.structure.collections:
        named = set().union(*(s.markers.value_backends(lit.value) for lit in literals)) - {source}
        if named and not s.is_vetoed(span):
            s.veto(span, rule, f"this collection already names {', '.join(sorted(named))}: porter leaves it alone")
    if s.supports_target():
        value_rules = {r.id for r in s.ruleset.of_kind("context_string")}
        why = (f"the repository already supports {target}: this test tells CUDA from the other backends (a feature "
               "gate or the code's own switch), so porter leaves it as it is")
        for test in s.structure.tests:
            edits = [e for e in s.edits_inside(test) if e.finding and e.finding.rule_id in value_rules]
            if edits and not s.is_vetoed(test):
                s.veto(test, rule, why, edits=edits)
        for test in [*(b.test_span for b in s.structure.branches), *s.structure.conditions]:
            if not s.is_vetoed(test):
                s.veto(test, rule, why)


def cuda_only_guard(s: Safety, rule) -> None:
    for branch in s.structure.branches:
        region = joined(branch.test_span, branch.body_span)
        if s.is_vetoed(region):
            continue
        names_count = s.multi_backend()  # there a CUDA-named identifier in a test is a CUDA-specific thing too
        if s.edits_inside(branch.test_span):
            kept = s.leftovers(branch.test_span, strings_only=not names_count)
            what = "its test keeps testing for"
            if not kept:
                guarded = [branch.body_span, *([branch.rest_span] if branch.rest_span else [])]
                kept = [token for span in guarded for token in s.leftovers(span)]
                what = "the code it selects keeps"
                if branch.rest_span and kept:
                    region = joined(branch.test_span, branch.rest_span)
        elif s.edits_inside(branch.body_span):
            kept = s.leftovers(branch.test_span, strings_only=not names_count)
            what = "its test keeps testing for"
        else:
            continue
        if kept:
            span, text = kept[0]
            s.veto(region, rule, f"a branch is ported with its test or not at all: {what} CUDA-specific "
                                 f"`{text}` (line {span.line}); left as it is")


def _normalised(code: str) -> str:
    try:
        return ast.dump(ast.parse(code.strip(), mode="eval"))
    except SyntaxError:
        return code.strip()


def _new_code(s: Safety, node: cst.CSTNode, span: Span) -> str | None:
    edits = s.edits_inside(span)
    return code_of(apply_edits(node, edits)) if edits else None


def distinct_values(s: Safety, rule) -> None:
    blocks = defaultdict(list)
    for sibling in s.structure.siblings:
        blocks[sibling.block].append(sibling)
    for siblings in blocks.values():
        if not any(s.edits_inside(sib.span) for sib in siblings):
            continue
        before = [_normalised(code_of(sib.value)) for sib in siblings]
        after = [_normalised(new) if (new := _new_code(s, sib.value, sib.span)) is not None else old
                 for sib, old in zip(siblings, before)]
        alike = defaultdict(list)  # new value -> the siblings that get it
        for j, value in enumerate(after):
            alike[value].append(j)
        for i, sib in enumerate(siblings):
            if after[i] == before[i] or s.is_vetoed(sib.span):
                continue
            clash = next((siblings[j] for j in alike[after[i]] if siblings[j].target != sib.target
                          and before[j] != before[i]), None)
            if clash is not None:
                s.veto(sib.span, rule, f"the rewrite would make `{sib.target}` equal to `{clash.target}`: left as it is")
    for span, literals in s.structure.collections:
        values = [_new_value(s, lit) for lit in literals]
        if len(set(values)) < len(values) and len({lit.value for lit in literals}) == len(literals):
            s.veto(span, rule, "the rewrite would make two items of this collection equal: left as it is")


def _new_value(s: Safety, literal) -> str:
    for edit in s.edits_inside(literal.span):
        if edit.finding is not None and edit.finding.replacement is not None and edit.span == literal.span:
            try:
                return ast.literal_eval(edit.finding.replacement)
            except (ValueError, SyntaxError):
                return edit.finding.replacement
    return literal.value


def value_consistency(s: Safety, rule) -> None:
    patterns = [device_value(r) for r in s.ruleset.of_kind("context_string")]
    units = [*s.structure.statements, *(b.test_span for b in s.structure.branches), *s.structure.calls]
    multi = s.multi_backend()
    for unit in units:  # `pytest.param("cuda", marks=skipif(not torch.cuda.is_available()))`, one statement
        if s.is_vetoed(unit) or not s.edits_inside(unit):
            continue
        kept = [(lit.span, lit.value) for lit in s.literals.inside(unit)
                if not s.edits_inside(lit.span) and any(p.fullmatch(lit.value) for p in patterns)]
        if not kept and multi:  # code of a multi-backend repository: any CUDA-specific leftover counts
            kept = s.leftovers(unit)
        if kept:
            s.veto(unit, rule, f"this code would be ported while it keeps `{kept[0][1]}` (line "
                               f"{kept[0][0].line}): port them together by hand")
    for value_rule in s.ruleset.of_kind("context_string"):
        pattern = device_value(value_rule)
        groups: dict[Span, tuple[list, list]] = defaultdict(lambda: ([], []))
        for literal in s.structure.literals:
            if not pattern.fullmatch(literal.value) or s.is_vetoed(literal.span):
                continue
            edits = [e for e in s.edits_inside(literal.span) if e.finding and e.finding.rule_id == value_rule.id]
            ported, kept = groups[_scope(s, literal.span)]
            if edits:
                ported.append((literal, edits))
            elif not literal.argument:
                kept.append((literal, edits))
        for scope, (ported, kept) in groups.items():
            if ported and kept:
                lines = ", ".join(str(lit.span.line) for lit, _ in kept)
                s.veto(scope, rule, f"{value_rule.id} would port `{ported[0][0].value}` (line {ported[0][0].span.line})"
                                    f" but not the same value at line {lines}: port these together by hand",
                       edits=[e for _, edits in ported for e in edits])


def _scope(s: Safety, span: Span) -> Span:
    around = [f for f in s.structure.functions if inside(span, f)]
    return max(around, key=lambda f: (f.line, f.column)) if around else s.structure.module_span


POLICIES = {
    "backend_implementation": backend_implementation,
    "backend_dispatch": backend_dispatch,
    "cuda_only_guard": cuda_only_guard,
    "distinct_values": distinct_values,
    "value_consistency": value_consistency,
}
