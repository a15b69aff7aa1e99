"""Rule kind `fusion`: code written out in elementary operations that one torch_npu operator computes.

The rule data names the call the detector in `porter.python.transforms.fusion` starts from (`torch.rsqrt` among
the factors of a product, `torch.softmax` as the left operand of `@`, or a method, `addcdiv_()`, with the loop
around it) and the detector reads the rest; it answers None unless every operand is identified, a Refuse when the
fused operator needs a change the code alone cannot show (advice, the code stays), or, for an opt-in rule
(`porter port --fuse`), the rewrite. Without --fuse an opt-in rule's code gets the advice of the `call_transform`
rule on that API.
"""

from __future__ import annotations

import libcst as cst

from porter.findings import Status
from porter.python.base import RuleVisitor, root_name
from porter.python.transforms import lookup
from porter.python.transforms.args import Refuse
from porter.python.transforms.fusion import MATMUL, Site
from porter.ruleset import RuleError


class FusionVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        try:
            self.detectors = {e.pattern: (e, lookup(e.transform)) for e in rule.entries}
        except KeyError as error:
            raise RuleError(f"{rule.origin}: rule {rule.id}: {error.args[0]}") from None
        self.inner: set[int] = set()  # id() of products inside one already read
        self.loops: list[cst.For] = []

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loops.pop()

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._detect(node, Site("@", (node.left, node.right), node.left, self.imported_names))
        elif _is_product(node) and id(node) not in self.inner:
            factors = tuple(self._factors(node))
            for factor in factors:
                if self._detect(node, Site("*", factors, factor, self.imported_names)):
                    return

    def visit_Call(self, node: cst.Call) -> None:
        func, positional = node.func, [a.value for a in node.args if not a.keyword and not a.star]
        if isinstance(func, cst.Attribute) and f"{func.attr.value}()" in self.detectors:
            if func.attr.value not in self.proposals.own_functions and not self.imported_names(func.value):
                loop = self.loops[-1] if self.loops else None
                self._detect(node, Site(".", (func.value,), node, self.imported_names, loop), f"{func.attr.value}()")
        elif len(positional) == 2 == len(node.args) and isinstance(positional[0], cst.Call) \
                and MATMUL in self.imported_names(func):
            self._detect(node, Site("@", tuple(positional), positional[0], self.imported_names))

    def _detect(self, node: cst.CSTNode, site: Site, *keys: str) -> bool:
        """Whether the detector of an entry the anchor matches (its qualified names, or `keys`) took `site`:
        advice or a rewrite recorded on `node`."""
        if not isinstance(site.anchor, cst.Call):
            return False
        for key in keys or sorted(self.imported_names(site.anchor.func)):
            if key in self.detectors:
                entry, detect = self.detectors[key]
                result = detect(site)
                if isinstance(result, Refuse):  # advice: the fused operator needs a change the code cannot show
                    self.record(node, entry, result.reason, status=Status.REVIEW, message_override=result.reason)
                    return True
                if result is not None:
                    self._rewrite(node, entry, result)
                    return True
        return False

    def _factors(self, node: cst.BinaryOperation) -> list[cst.BaseExpression]:
        """The operands of a chain of `*`, parenthesised inner products included: the fused operator changes the
        order of rounding anyway, which the parity case measures."""
        self.inner.add(id(node))
        return [part for side in (node.left, node.right)
                for part in (self._factors(side) if _is_product(side) else [side])]

    def _rewrite(self, node: cst.BinaryOperation, entry, result) -> None:
        def rewrite(updated: cst.BinaryOperation) -> cst.BaseExpression:
            return cst.parse_expression(result.code).with_changes(lpar=updated.lpar, rpar=updated.rpar)

        emitted = result.code.split("(", 1)[0]
        message = " ".join(filter(None, (entry.message or f"rewritten as `{emitted}` (--fuse).", result.note)))
        unused = tuple(name for name in {root_name(f.func) for f in self._calls(node)} if name)
        self.record(node, entry, message, rewrite, result.code, result.needs, unused, message_override=message)
        self.proposals.replaced.add(self.span(node))

    @staticmethod
    def _calls(node: cst.CSTNode) -> list[cst.Call]:
        found = []

        class _Calls(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                found.append(call)

        node.visit(_Calls())
        return found


def _is_product(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)
