"""Reading a name through the assignments before it in its block: `attn = q @ k.mT`, `attn = attn.softmax(-1)`,
then `attn @ v` reads `(q @ k.mT).softmax(-1) @ v`. For detectors that recognise a computation spread over
statements; the reading stops at any statement that names the name other than by assigning it whole."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

MAX_STEPS = 8  # assignments followed for one expression


class BlockTracking:
    """Visitor methods (mixed into a rule kind's visitor) that keep the block being visited and its statement line,
    so that a detector can read a name through the statements before that line."""

    def visit_Module(self, node: cst.Module) -> None:
        self._blocks: list[Sequence[cst.BaseStatement]] = [node.body]
        self._line: cst.SimpleStatementLine | None = None

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.append(node.body)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self._blocks.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._line = node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._line = None

    def block(self) -> tuple[cst.BaseStatement, ...]:
        """The statements of the block being visited up to the line being visited, that line last (none outside a
        line: in a compound statement's header)."""
        if self._line is None:
            return ()
        block = self._blocks[-1]
        return tuple(block[:next(i for i, statement in enumerate(block) if statement is self._line) + 1])


def names_in(node: cst.CSTNode) -> set[str]:
    return {name.value for name in m.findall(node, m.Name())}


def inlined(node: cst.BaseExpression, earlier: Sequence[cst.BaseStatement]) -> cst.BaseExpression:
    """`node` with the names it reads replaced by the values `name = value` statements in `earlier` (the block's
    statements before it, in order) last gave them, each value read the same way from the statements before it.
    Nodes nothing changed inside are returned as they are (their positions and resolved names stay known)."""
    return _Reading(MAX_STEPS).read(node, tuple(earlier))


class _Reading:
    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.named: dict[int, set[str]] = {}  # id() of a statement -> the names in it

    def read(self, node: cst.BaseExpression, earlier: tuple[cst.BaseStatement, ...]) -> cst.BaseExpression:
        if isinstance(node, cst.Name):
            return self._name(node, earlier)
        children = {"func": cst.Call, "value": (cst.Attribute, cst.Subscript), "left": cst.BinaryOperation,
                    "right": cst.BinaryOperation, "expression": cst.UnaryOperation}
        changes = {field: self.read(getattr(node, field), earlier)
                   for field, kinds in children.items() if isinstance(node, kinds)}
        if isinstance(node, cst.Call):
            changes["args"] = tuple(a.with_changes(value=v) if v is not a.value else a
                                    for a, v in ((a, self.read(a.value, earlier)) for a in node.args))
            if all(new is old for new, old in zip(changes["args"], node.args)):
                del changes["args"]
        changes = {field: value for field, value in changes.items() if value is not getattr(node, field)}
        return node.with_changes(**changes) if changes else node

    def _name(self, node: cst.Name, earlier: tuple[cst.BaseStatement, ...]) -> cst.BaseExpression:
        for index in range(len(earlier) - 1, -1, -1):
            statement = earlier[index]
            assigns = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name(node.value))])])
            if m.matches(statement, assigns):
                if self.steps == 0:
                    return node
                self.steps -= 1
                value = self.read(statement.body[0].value, earlier[:index])
                atomic = isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or value.lpar
                return value if atomic else value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            named = self.named.get(id(statement))
            if named is None:
                named = self.named[id(statement)] = names_in(statement)
            if node.value in named:
                return node
        return node
