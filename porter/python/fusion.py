"""Rule kind `fusion` (opt-in, `porter port --fuse`): a product written out in elementary operations that one
torch_npu operator computes is rewritten to that operator.

The rule data names the API that must be one factor of the product (`torch.rsqrt`) and the detector in
`porter.python.transforms.fusion` that reads the whole product; the detector answers None unless every operand is
identified, or a Refuse when the fused operator needs a change the product alone cannot show (advice, the
code stays). Without --fuse an opt-in rule's code gets the advice of the `call_transform` rule on that API.
"""

from __future__ import annotations

import libcst as cst

from porter.findings import Status
from porter.python.base import RuleVisitor, root_name
from porter.python.transforms import lookup
from porter.python.transforms.args import Refuse
from porter.ruleset import RuleError


class FusionVisitor(RuleVisitor):
    def __init__(self, rule, proposals) -> None:
        super().__init__(rule, proposals)
        try:
            self.detectors = {e.pattern: (e, lookup(e.transform)) for e in rule.entries}
        except KeyError as error:
            raise RuleError(f"{rule.origin}: rule {rule.id}: {error.args[0]}") from None
        self.inner: set[int] = set()  # id() of products inside one already read

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not _is_product(node) or id(node) in self.inner:
            return
        factors = self._factors(node)
        for factor in factors:
            if not isinstance(factor, cst.Call):
                continue
            for qualified in sorted(self.imported_names(factor.func)):
                if qualified in self.detectors:
                    entry, detect = self.detectors[qualified]
                    result = detect(factors, factor)
                    if isinstance(result, Refuse):  # advice: the fused operator needs a change the code cannot show
                        self.record(node, entry, result.reason, status=Status.REVIEW, message_override=result.reason)
                        return
                    if result is not None:
                        self._rewrite(node, entry, result)
                        return

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
