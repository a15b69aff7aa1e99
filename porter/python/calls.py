"""Rule kind `call_transform`: a library call (resolved through imports and aliases) rebuilt by a named transform.

The rule data says which API a call must resolve to and which transform in `porter.python.transforms` builds the
replacement from the call's arguments; the transform may refuse, and then the call is reported, never changed, or
answer None: the call is not what it looks for (advice rules match a common API such as `torch.rsqrt`).
A reference to the API that is not a call (`attn = flash_attn_func`) cannot be converted and is reported.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import libcst as cst

from porter.findings import Status
from porter.python.base import RuleVisitor, code_of, dotted_text, root_name
from porter.python.inline import BlockTracking, inlined
from porter.python.transforms import transforms_of
from porter.python.transforms.args import CallArgs, Refuse
from porter.python.transforms.layout import follow_layout
from porter.ruleset import Entry, Rule


_NAME_USE = re.compile(r"(?<![.\w])[A-Za-z_]\w*(?!\w)(?!\s*=(?!=))")  # a name the new code uses, not a keyword


@dataclass(frozen=True)
class _Rule:
    rule: Rule
    entries: dict[str, Entry]
    transforms: dict[str, object]


class CallTransformVisitor(BlockTracking, RuleVisitor):
    ALL_RULES = True

    def __init__(self, rules: list[Rule], proposals) -> None:
        super().__init__(None, proposals)
        self.rules = [_Rule(rule, {e.pattern: e for e in rule.entries}, transforms_of(rule)) for rule in rules]
        self.imports = 0  # names inside import statements are bindings, not uses
        self.none_checked: set[int] = set()  # id() of each `X` in `X is None`, `X is not None`, `X == None`

    def visit_Import(self, node: cst.Import) -> None:
        self.imports += 1

    def leave_Import(self, original_node: cst.Import) -> None:
        self.imports -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.imports += 1

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self.imports -= 1

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if any(isinstance(target.comparator, cst.Name) and target.comparator.value == "None"
               for target in node.comparisons):
            self.none_checked.add(id(node.left))

    def visit_Name(self, node: cst.Name) -> None:
        self._reference(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._reference(node)

    def _reference(self, node: cst.Name | cst.Attribute) -> None:
        if self.imports or self.import_rooted(node) is None:
            return
        names = sorted(self.imported_names(node))
        if not names:
            return
        for rule in self.rules:
            qualified = next((q for q in names if q in rule.entries), None)
            if qualified is not None and not self.proposals.replaced.contains(self.span(node)):
                self._found(rule, node, qualified, rule.entries[qualified])

    def _found(self, rule: _Rule, node: cst.Name | cst.Attribute, qualified: str, entry: Entry) -> None:
        call = self.proposals.call_funcs.get(id(node))
        if call is None:
            if entry.status != "auto":  # an advice entry: only calls can show the pattern it looks for
                return
            why = f"`{qualified}` is used here without being called: convert it by hand"
            if entry.message:
                why += f" ({entry.message})"
            if id(node) in self.none_checked:  # the optional-import idiom: `try: import ... except: X = None`
                why = (f"`{qualified}` is compared with None here, a check that its library is installed: on NPU it "
                       "is not, so the check takes the missing-library branch; drop it where the calls were converted")
            self.record(node, _saying(entry, why), why, status=Status.REVIEW, rule=rule.rule)
            return
        others = sorted(self.imported_names(node) - {qualified})
        if others and entry.status == "auto":  # as the rename rules do: `try: from apex... except: from torch...`
            why = (f"`{dotted_text(node)}` is bound by imports from several modules (also {', '.join(others)}): a "
                   "backend or version fallback chain, left as it is")
            self.record(call, _saying(entry, why), why, status=Status.REVIEW, cover=node, rule=rule.rule)
            return
        self._convert(rule, call, node, qualified, entry)

    def _convert(self, rule: _Rule, call: cst.Call, func: cst.CSTNode, qualified: str, entry) -> None:
        transform = rule.transforms[entry.pattern]

        resolved: dict[str, set[str]] = {}  # by source text: the rewrite sees new nodes, without scope metadata

        def resolve_now(node: cst.CSTNode) -> set[str]:
            return resolved.setdefault(code_of(node), self.imported_names(node))

        def answer(node: cst.Call, resolve=lambda node: resolved.get(code_of(node), set()), reading=lambda n: n):
            return transform(CallArgs(node, transform.params, transform.positional, resolve, reading))

        earlier = self.block()[:-1]
        result = answer(call, resolve_now, lambda node: inlined(node, earlier))
        if result is None:  # not the shape this transform looks for
            return
        if isinstance(result, Refuse):
            status = Status.UNSUPPORTED if result.status == "unsupported" else Status.REVIEW
            why = f"`{qualified}` left as is: {result.reason}"
            self.record(call, _saying(entry, why), why, status=status, cover=func, rule=rule.rule)
            return
        def rewrite(updated: cst.Call) -> cst.BaseExpression:
            again = answer(updated)  # the arguments may carry other rules' edits by now
            return updated if isinstance(again, Refuse) else follow_layout(updated, cst.parse_expression(again.code))

        cover, unused = func, (root_name(func),)
        if getattr(transform, "rebuilds_arguments", False):  # the whole call is new code, names inside it too
            self.proposals.replaced.add(self.span(call))
            cover = None
            unused += tuple(sorted({root_name(cst.parse_expression(code)) for code in resolved}
                                   - set(re.findall(_NAME_USE, result.code)) - {None}))
        emitted = result.code.split("(", 1)[0]
        message = " ".join(filter(None, (entry.message or f"`{qualified}` rebuilt as `{emitted}`.", result.note)))
        self.record(call, _saying(entry, message), message, rewrite, result.code, result.needs, unused,
                    status=Status.REVIEW if result.review else None, cover=cover, rule=rule.rule)


def _saying(entry, message: str):
    """The entry with this call's own message: `record` words a finding from its entry."""
    return dataclasses.replace(entry, message=message)
