"""Rule kind `fusion`: code written out in elementary operations that one torch_npu operator computes.

The rule data names the call the detector in `porter.python.transforms.fusion` starts from (`torch.rsqrt` among
the factors of a product, `torch.softmax` or the method `softmax()` in the left operand of `@`, read through the
assignments before it, the method `addcdiv_()` with the loop around it, or `torch.cat` in a function of the
module that a sum's factors call) and the detector reads the rest; it answers None unless every operand is
identified, a Refuse when the fused operator needs a change the code alone cannot show (advice, the code stays),
or, for an opt-in rule (`porter port --fuse`), the rewrite. Without --fuse an opt-in rule's code gets the advice
of the `call_transform` rule on that API.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from porter.findings import Status
from porter.python.base import RuleVisitor, root_name
from porter.python.inline import BlockTracking, inlined
from porter.python.transforms import transforms_of
from porter.python.transforms.args import Refuse
from porter.python.transforms.fusion import MATMUL, Site
from porter.ruleset import Rule


@dataclass
class _Rule:
    rule: Rule
    detectors: dict[str, tuple]  # entry pattern -> (entry, detector)
    anchors_in: dict[str, list[cst.Call]] = field(default_factory=lambda: defaultdict(list))  # module-level
    # function -> the calls in it this rule's entries match


class FusionVisitor(BlockTracking, RuleVisitor):
    ALL_RULES = True

    def __init__(self, rules: list[Rule], proposals) -> None:
        super().__init__(None, proposals)
        self.rules = []
        for rule in rules:
            detectors = transforms_of(rule)
            self.rules.append(_Rule(rule, {e.pattern: (e, detectors[e.pattern]) for e in rule.entries}))
        self.methods = {key for rule in self.rules for key in rule.detectors if key.endswith("()")}
        self.inner: set[int] = set()  # id() of products inside one already read
        self.loops: list[cst.For] = []
        self.nesting: list[cst.CSTNode] = []  # enclosing functions and classes
        self.module_functions: dict[str, list[cst.FunctionDef]] = defaultdict(list)
        self.sums: list[tuple[cst.BinaryOperation, cst.Name]] = []  # `a + b` and a function called among its factors

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.nesting.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.nesting.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.nesting:
            self.module_functions[node.name.value].append(node)
        self.nesting.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.nesting.pop()

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loops.pop()

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._matmul(node, node.left, node.right)
        elif isinstance(node.operator, cst.Add):
            self.sums += [(node, call.func) for side in (node.left, node.right) if _is_product(side)
                          for call in (side.left, side.right) if m.matches(call, m.Call(func=m.Name()))]
        elif _is_product(node) and id(node) not in self.inner:
            factors = tuple(self._factors(node))
            for rule in self.rules:
                for factor in factors:
                    if self._detect(rule, node, Site("*", factors, factor, self.imported_names, block=self.block)):
                        break

    def visit_Call(self, node: cst.Call) -> None:
        if len(self.nesting) == 1 and isinstance(self.nesting[0], cst.FunctionDef):
            names = self.imported_names(node.func)
            for rule in self.rules:
                if names & rule.detectors.keys():
                    rule.anchors_in[self.nesting[0].name.value].append(node)
        func, positional = node.func, [a.value for a in node.args if not a.keyword and not a.star]
        method = self._method(func)
        detecting = [rule for rule in self.rules if method in rule.detectors]
        if detecting:
            loop = self.loops[-1] if self.loops else None
            for rule in detecting:
                self._detect(rule, node, Site(".", (func.value,), node, self.imported_names, loop), method)
        elif len(positional) == 2 == len(node.args) and MATMUL in self.imported_names(func):
            self._matmul(node, *positional)

    def _matmul(self, node: cst.CSTNode, left: cst.BaseExpression, right: cst.BaseExpression) -> None:
        """`left @ right`: the detectors start from an entry's call in `left`, its names read through the
        assignments before it in its block (porter.python.inline)."""
        left = inlined(left, self.block()[:-1])
        anchors = m.findall(left, m.Call())
        for rule in self.rules:
            for anchor in anchors:
                if self._detect(rule, node, Site("@", (left, right), anchor, self.imported_names)):
                    break

    def leave_Module(self, original_node: cst.Module) -> None:
        """A sum whose factors call a function of this module that holds an entry's call: the detector reads both."""
        called_only = functools.cache(lambda function: only_called(original_node, function))
        for rule in self.rules:
            for node, callee in self.sums:
                defined = self.module_functions.get(callee.value, ())
                anchors = rule.anchors_in.get(callee.value, ())
                if len(defined) == 1 and anchors and self._binds(callee, defined[0], called_only):
                    for anchor in anchors:
                        if self._detect(rule, node, Site("+", (node.left, node.right), anchor, self.imported_names,
                                                         function=defined[0])):
                            break

    def _binds(self, name: cst.Name, function: cst.FunctionDef,
               called_only: Callable[[cst.FunctionDef], bool]) -> bool:
        """Whether `function` is the only binding `name` can refer to where it is used: so where the module spells
        the name only as the function's and as what calls call (`called_only`: nothing else binds it), else as
        libcst's scope analysis says (a pass over the whole module)."""
        if called_only(function):
            return True
        scope = self.proposals.scope_of(name)
        return scope is not None and [a.node for a in scope[name.value]] == [function]

    def _detect(self, rule: _Rule, node: cst.CSTNode, site: Site, *keys: str) -> bool:
        """Whether the detector of an entry of `rule` the anchor matches (its qualified names, or `keys`) took
        `site`: advice or a rewrite recorded on `node`."""
        if not isinstance(site.anchor, cst.Call) or self.proposals.replaced.contains(self.span(node)):
            return False  # a rule before this one rewrote it: no advice on code that is gone
        for key in keys or self._keys(site.anchor.func):
            if key in rule.detectors:
                entry, detect = rule.detectors[key]
                result = detect(site)
                if isinstance(result, Refuse):  # advice: the fused operator needs a change the code cannot show
                    self.record(node, entry, result.reason, status=Status.REVIEW, message_override=result.reason,
                                rule=rule.rule)
                    return True
                if result is not None:
                    self._rewrite(rule, node, entry, result)
                    return True
        return False

    def _keys(self, func: cst.BaseExpression) -> list[str]:
        """The entry keys a call's callee can match: its qualified names, or `name()` for a method."""
        method = self._method(func)
        return [method] if method else sorted(self.imported_names(func))

    def _method(self, func: cst.BaseExpression) -> str | None:
        """`name()` for a call of a method an entry names (`softmax()`), which the module does not define itself,
        on a receiver not imported."""
        if not isinstance(func, cst.Attribute) or func.attr.value in self.proposals.own_functions:
            return None
        key = f"{func.attr.value}()"
        return key if key in self.methods and not self.is_imported(func.value) else None

    def _factors(self, node: cst.BinaryOperation) -> list[cst.BaseExpression]:
        """The operands of a chain of `*`, parenthesised inner products included: the fused operator changes the
        order of rounding anyway, which the parity case measures."""
        self.inner.add(id(node))
        return [part for side in (node.left, node.right)
                for part in (self._factors(side) if _is_product(side) else [side])]

    def _rewrite(self, rule: _Rule, node: cst.BinaryOperation, entry, result) -> None:
        def rewrite(updated: cst.BinaryOperation) -> cst.BaseExpression:
            return cst.parse_expression(result.code).with_changes(lpar=updated.lpar, rpar=updated.rpar)

        emitted = result.code.split("(", 1)[0]
        message = " ".join(filter(None, (entry.message or f"rewritten as `{emitted}` (--fuse).", result.note)))
        unused = tuple(name for name in {root_name(f.func) for f in m.findall(node, m.Call())} if name)
        finding = self.record(node, entry, message, rewrite, result.code, result.needs, unused,
                              message_override=message, rule=rule.rule)
        finding.computes = result.computes
        self.proposals.replaced.add(self.span(node))


def only_called(module: cst.Module, function: cst.FunctionDef) -> bool:
    """Whether every spelling of the function's name in the module is its own or the callee of a call."""
    spellings = _Spellings(function)
    module.visit(spellings)
    return not spellings.other


class _Spellings(cst.CSTVisitor):
    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function, self.called, self.other = function, set(), False

    def visit_Call(self, node: cst.Call) -> None:  # before its callee
        if type(node.func) is cst.Name:
            self.called.add(id(node.func))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.function.name.value and id(node) not in self.called and node is not self.function.name:
            self.other = True


def _is_product(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)
