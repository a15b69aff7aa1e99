"""Rule kind `rename`: a fully qualified API (resolved through imports and aliases) maps to another one, or is reported."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from porter.findings import Status
from porter.python.base import RuleVisitor, code_of, entry_matches
from porter.ruleset import Entry, Rule


def _spelled_replacement(text: str, qualified: str, replacement: str,
                         support_modules: frozenset[str]) -> tuple[str, tuple, tuple]:
    """Spell `replacement` the way the code spells `qualified` (keeping `import torch as th` aliases).

    Returns the new text, modules it needs imported, and the import-bound name it may leave unused. A name inside
    a subpackage of a support module (`torch_npu.utils.cpp_extension.NpuExtension`) needs that subpackage
    imported: importing `torch_npu` alone does not load it.
    """
    text_parts, qual_parts, new_parts = text.split("."), qualified.split("."), replacement.split(".")
    submodule = (".".join(new_parts[:-1]),) if new_parts[0] in support_modules and len(new_parts) > 2 else ()
    bound_prefix = qual_parts[: len(qual_parts) - len(text_parts) + 1]  # what the first spelled name is bound to
    if new_parts[: len(bound_prefix)] == bound_prefix:
        return ".".join([text_parts[0], *new_parts[len(bound_prefix) :]]), submodule, ()
    return replacement, submodule or (new_parts[0],), (text_parts[0],)


@dataclass
class _Rule:
    rule: Rule
    entries: dict[str, Entry]
    report_only: dict[str, Entry]
    inside: cst.CSTNode | None = None  # batched visits cannot prune: what lies inside this rule's match is skipped


class RenameVisitor(RuleVisitor):
    ALL_RULES = True

    def __init__(self, rules: list[Rule], proposals) -> None:
        super().__init__(None, proposals)
        self.rules = []
        for rule in rules:
            entries = {e.pattern: e for e in rule.entries}
            self.rules.append(_Rule(rule, entries, {p: e for p, e in entries.items() if e.replacement is None}))
        self.result_attribute: dict[int, str] = {}  # id() of a call -> the attribute read from its result

    def visit_Import(self, node: cst.Import) -> None:
        self._enter(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._enter(node)

    def _enter(self, node: cst.CSTNode) -> None:
        for rule in self.rules:
            rule.inside = rule.inside or node

    def visit_Name(self, node: cst.Name) -> None:
        self._match(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Call):  # `f(...).major`: remembered for entries on a call's result
            self.result_attribute[id(node.value)] = node.attr.value
        self._match(node)

    def _leave(self, original_node: cst.CSTNode) -> None:
        for rule in self.rules:
            if original_node is rule.inside:
                rule.inside = None

    def leave_Import(self, original_node: cst.Import) -> None:
        self._leave(original_node)

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self._leave(original_node)

    def leave_Name(self, original_node: cst.Name) -> None:
        self._leave(original_node)

    def leave_Attribute(self, original_node: cst.Attribute) -> None:
        self._leave(original_node)

    def _match(self, node: cst.Name | cst.Attribute) -> None:
        text = self.import_rooted(node)
        if text is None:
            return
        qualified_names = None
        for rule in self.rules:
            if rule.inside is not None:
                continue
            if qualified_names is None:
                qualified_names = sorted(self.imported_names(node))
                if not qualified_names:
                    return
            self._match_rule(rule, node, text, qualified_names)

    def _match_rule(self, rule: _Rule, node: cst.CSTNode, text: str, qualified_names: list[str]) -> None:
        for qualified in qualified_names:
            entry = rule.entries.get(qualified) or (entry_matches(rule.report_only, qualified) if rule.report_only
                                                    else None)
            if entry is None:
                continue
            rule.inside = node
            if len(qualified_names) > 1:  # `try: from torch.amp import X / except ImportError: from torch.cuda.amp ...`
                others = ", ".join(q for q in qualified_names if q != qualified)
                self.record(node, entry, rule.rule.summary, status=Status.REVIEW, rule=rule.rule,
                            message_override=f"`{text}` is bound by imports from several modules (also {others}): a "
                                             "backend or version fallback chain, left as it is")
                return
            self._apply(rule, node, text, qualified, entry)
            return

    def _apply(self, rule: _Rule, node: cst.CSTNode, text: str, qualified: str, entry: Entry) -> None:
        call = self.proposals.call_funcs.get(id(node))
        on_result = rule.entries.get(f"{qualified}().{self.result_attribute.get(id(call))}")
        if on_result is not None:  # `torch.cuda.get_device_properties(0).major`: the result means something else
            entry = on_result
        summary = rule.rule.summary
        if entry.replacement is None:
            self.record(node, entry, summary, rule=rule.rule)
            return
        new_text, needs, unused = _spelled_replacement(text, qualified, entry.replacement,
                                                       self.proposals.support_modules)
        new_func = cst.parse_expression(new_text)
        call = self.proposals.call_funcs.get(id(node)) if entry.insert_args else None
        if entry.insert_args and call is None:  # a reference: the generic twin would default to CUDA's device
            first = ", ".join(entry.insert_args)
            self.record(node, entry, summary, status=Status.REVIEW, rule=rule.rule, message_override=(
                f"a reference to `{text}`, not a call: `{entry.replacement}` needs {first} first, so pass it where the "
                f"reference is called (e.g. functools.partial({entry.replacement}, {first})); left as it is"))
            return
        if call is not None:
            target, rewrite = call, _call_rewriter(new_func, entry)
        else:
            target, rewrite = node, lambda _updated: new_func
        replacement = code_of(rewrite(target))
        self.record(target, entry, summary, rewrite, replacement, needs, unused, cover=node, rule=rule.rule)


def _call_rewriter(new_func: cst.BaseExpression, entry: Entry):
    def rewrite(call: cst.Call) -> cst.Call:
        own = list(call.args)
        for index, arg in enumerate(own):
            if arg.keyword is None and arg.star == "" and index < len(entry.positional_names):
                own[index] = arg.with_changes(
                    keyword=cst.Name(entry.positional_names[index]),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
                )
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        leading = [cst.Arg(cst.parse_expression(a), comma=comma) for a in entry.insert_args]
        if not own:
            leading[-1] = leading[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return call.with_changes(func=new_func, args=[*leading, *own])

    return rewrite
