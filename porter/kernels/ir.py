"""The elementwise IR: what one thread computes for its index, read from a kernel body's syntax tree."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from porter.kernels.inventory import Kernel
from porter.kernels.syntax import call_name, compact, declarator_name, text

BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
_INT_TYPES = r"(?:unsigned|unsignedint|int|long|size_t|int32_t|int64_t|uint32_t|uint64_t|longlong)"
_INT_CASTS = re.compile(rf"\({_INT_TYPES}\)|static_cast<{_INT_TYPES}>")  # (int64_t)blockIdx.x, static_cast<...>(...)


class Stop(Exception):
    """Elementwise synthesis stops here; the message says why (it goes into the report and the scaffold)."""


class OperationStop(Stop):
    """The kernel is elementwise in shape, but one of its operations has no translation."""


@dataclass(frozen=True)
class Load:
    param: str


@dataclass(frozen=True)
class Broadcast:
    param: str  # read as param[i % period]
    period: str


@dataclass(frozen=True)
class Scalar:
    param: str


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Op:
    name: str  # add sub mul div neg exp log abs sqrt rsqrt max min relu leaky_relu
    args: tuple


Expr = Load | Broadcast | Scalar | Const | Op


def is_scalar(expr: Expr) -> bool:
    if isinstance(expr, Op):
        return all(is_scalar(a) for a in expr.args)
    return isinstance(expr, (Scalar, Const))


@dataclass
class Elementwise:
    kernel: Kernel
    length: str  # the parameter bounding the index
    outputs: dict[str, Expr] = field(default_factory=dict)  # pointer parameter -> value stored
    dtypes: tuple[str, ...] = ()  # Ascend C element types to instantiate

    @property
    def inputs(self) -> list[str]:
        used: set[str] = set()
        for expr in self.outputs.values():
            _collect(expr, used)
        return [p.name for p in self.kernel.params if p.name in used]


def _collect(expr: Expr, used: set[str]) -> None:
    if isinstance(expr, (Load, Broadcast)):
        used.add(expr.param)
    elif isinstance(expr, Op):
        for arg in expr.args:
            _collect(arg, used)


class _Reader:
    def __init__(self, kernel: Kernel, contexts: dict):
        self.kernel = kernel
        self.contexts = contexts
        self.index = ""
        self.length = ""
        self.env: dict[str, Expr] = {}
        self.outputs: dict[str, Expr] = {}

    # statements -----------------------------------------------------------------------------------------------
    def block(self, node: Node) -> None:
        children = node.named_children if node.type == "compound_statement" else [node]
        for child in children:
            self.statement(child)

    def statement(self, node: Node) -> None:
        kind = node.type
        if kind == "comment":
            return
        if kind == "declaration" and self._index_declaration(node):
            return
        if kind == "declaration":
            for declarator in node.children_by_field_name("declarator"):
                if declarator.type != "init_declarator":
                    raise Stop(f"declaration `{text(node)}` without a value")
                self.env[declarator_name(declarator)] = self.expr(declarator.child_by_field_name("value"))
            return
        if kind == "if_statement":
            return self._guard(node)
        if kind == "for_statement":
            return self._grid_stride(node)
        if kind == "expression_statement" and node.named_children and node.named_children[0].type == "assignment_expression":
            return self._assign(node.named_children[0])
        raise Stop(f"statement `{compact(node)[:60]}` is not elementwise")

    def _index_declaration(self, node: Node) -> bool:
        declarator = node.child_by_field_name("declarator")
        if declarator is None or declarator.type != "init_declarator":
            return False
        value = _INT_CASTS.sub("", compact(declarator.child_by_field_name("value")))
        if value.replace("(", "").replace(")", "") not in self.contexts["index_forms"]:
            return False
        self.index = declarator_name(declarator)
        return True

    def _bound(self, condition: Node, op: str) -> str | None:
        """`n` when the condition reads `index < n` (op `<`) or `index >= n` (op `>=`)."""
        cond = compact(condition).strip("()")
        prefix = f"{self.index}{op}"
        if self.index and cond.startswith(prefix):
            bound = cond[len(prefix):]
            param = self.kernel.param(bound)
            if param is None or param.pointer:
                raise Stop(f"the index is bounded by `{bound}`, not by a length parameter")
            return bound
        return None

    def _guard(self, node: Node) -> None:
        condition = node.child_by_field_name("condition")
        consequence = node.child_by_field_name("consequence")
        if node.child_by_field_name("alternative") is None:
            bound = self._bound(condition, "<")
            if bound:
                self.length = bound
                return self.block(consequence)
            bound = self._bound(condition, ">=")
            if bound and compact(consequence).strip("{}") == "return;":
                self.length = bound
                return
        raise Stop(f"a data-dependent branch `if ({compact(condition).strip('()')[:40]})`")

    def _grid_stride(self, node: Node) -> None:
        init = node.child_by_field_name("initializer")
        if init is None or init.type != "declaration" or not self._index_declaration(init):
            raise Stop("a loop that is not a grid-stride loop over the thread index")
        bound = self._bound(node.child_by_field_name("condition"), "<")
        update = compact(node.child_by_field_name("update"))
        if not bound or update not in {f"{self.index}+={s}" for s in self.contexts["stride_forms"]}:
            raise Stop("a loop that is not a grid-stride loop over the thread index")
        self.length = bound
        self.block(node.child_by_field_name("body"))

    def _assign(self, node: Node) -> None:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        operator = text(node.child_by_field_name("operator"))
        value = self.expr(right)
        if left.type == "subscript_expression":
            target = self._indexed_param(left)
            if operator != "=":
                value = Op(BINARY[operator[0]], (self.outputs.get(target, Load(target)), value))
            self.outputs[target] = value
        elif left.type == "identifier" and text(left) in self.env:
            name = text(left)
            self.env[name] = value if operator == "=" else Op(BINARY[operator[0]], (self.env[name], value))
        else:
            raise Stop(f"a store to `{compact(left)}`")
        if not self.length:
            raise Stop("a store before any bounds check `if (i < n)`")

    # expressions ----------------------------------------------------------------------------------------------
    def _indexed_param(self, node: Node) -> str:
        array = node.child_by_field_name("argument")
        param = self.kernel.param(text(array))
        index = compact(node.child_by_field_name("indices") or node.named_children[-1]).strip("[]")
        if param is None or not param.pointer or index != self.index:
            raise Stop(f"operand `{compact(node)}` is not indexed by the thread index")
        return param.name

    def expr(self, node: Node) -> Expr:
        kind = node.type
        if kind == "parenthesized_expression":
            return self.expr(node.named_children[0])
        if kind == "number_literal":
            return Const(float(text(node).rstrip("fFlLuU")))
        if kind == "identifier":
            return self._identifier(text(node))
        if kind == "subscript_expression":
            return self._subscript(node)
        if kind == "binary_expression":
            op = BINARY.get(text(node.child_by_field_name("operator")))
            if op is None:
                raise OperationStop(f"operator `{text(node.child_by_field_name('operator'))}` in `{compact(node)[:40]}`")
            return Op(op, (self.expr(node.child_by_field_name("left")), self.expr(node.child_by_field_name("right"))))
        if kind == "unary_expression":
            operand = self.expr(node.child_by_field_name("argument"))
            operator = text(node.child_by_field_name("operator"))
            if operator == "-":
                return Op("neg", (operand,))
            if operator == "+":
                return operand
            raise OperationStop(f"operator `{operator}`")
        if kind == "cast_expression":
            self._cast(text(node.child_by_field_name("type")))
            return self.expr(node.child_by_field_name("value"))
        if kind == "call_expression":
            return self._call(node)
        if kind == "conditional_expression":
            return self._select(node)
        raise Stop(f"expression `{compact(node)[:40]}` ({kind})")

    def _identifier(self, name: str) -> Expr:
        if name in self.env:
            return self.env[name]
        param = self.kernel.param(name)
        if param is not None and not param.pointer and name != self.length:
            return Scalar(name)
        raise Stop(f"`{name}` used as a value (only loads at the thread index, scalars and constants are elementwise)")

    def _subscript(self, node: Node) -> Expr:
        array = self.kernel.param(text(node.child_by_field_name("argument")))
        index = compact(node.child_by_field_name("indices") or node.named_children[-1]).strip("[]")
        if array is not None and array.pointer and index == self.index:
            return self.outputs.get(array.name, Load(array.name))
        period = index.removeprefix(f"{self.index}%")
        if array is not None and array.pointer and period != index and self.kernel.param(period):
            return Broadcast(array.name, period)
        raise Stop(f"operand `{compact(node)}` is not indexed by the thread index (gather or stencil)")

    def _cast(self, type_name: str) -> None:
        allowed = {"float", *self.kernel.template_params, *(p.base_type for p in self.kernel.params if p.pointer)}
        if type_name not in allowed:
            raise OperationStop(f"a cast to `{type_name}` (mixed dtypes)")

    def _call(self, node: Node) -> Expr:
        name = call_name(node)
        args = [self.expr(a) for a in node.child_by_field_name("arguments").named_children]
        if name == "static_cast":
            self._cast(compact(node.child_by_field_name("function")).removeprefix("static_cast<").removesuffix(">"))
            return args[0]
        op = self.contexts["functions"].get(name)
        if op is None:
            raise OperationStop(f"a call to `{name}`")
        if op == "fma":
            return Op("add", (Op("mul", (args[0], args[1])), args[2]))
        return Op(op, tuple(args))

    def _select(self, node: Node) -> Expr:
        """`v > 0 ? v : 0` is relu and `v > 0 ? v : a * v` leaky relu; any other branch stops synthesis."""
        cond = node.child_by_field_name("condition")
        chosen = compact(node.child_by_field_name("consequence"))
        otherwise = node.child_by_field_name("alternative")
        match = re.fullmatch(r"\(?(.+?)(>|>=)0(?:\.0*)?[fF]?\)?", compact(cond))
        if match and match.group(1) == chosen:
            value = self.expr(node.child_by_field_name("consequence"))
            other = self.expr(otherwise)
            if other == Const(0.0):
                return Op("relu", (value,))
            if isinstance(other, Op) and other.name == "mul" and value in other.args:
                slope = other.args[1] if other.args[0] == value else other.args[0]
                if is_scalar(slope):
                    return Op("leaky_relu", (value, slope))
        raise OperationStop(f"a data-dependent select `{compact(node)[:50]}`")


def read_elementwise(kernel: Kernel, contexts: dict) -> Elementwise:
    """The kernel as an elementwise computation, or Stop with the reason it is not one."""
    if kernel.features:
        raise Stop("uses " + ", ".join(sorted(kernel.features)))
    pointers = [p for p in kernel.params if p.pointer]
    if not pointers:
        first = kernel.params[0] if kernel.params else None
        raise Stop("no pointer parameters" + (f" (operands come in `{first.base_type} {first.name}`)" if first else ""))
    indices = [p.name for p in pointers if p.base_type in contexts["index_types"]]
    if indices and len(indices) < len(pointers):
        raise Stop(f"integer operand `{indices[0]}` next to data operands: a gather or scatter")
    types = sorted({p.base_type for p in pointers})
    if len(types) > 1:
        raise Stop(f"mixed element types ({', '.join(types)})")
    if not types or types[0] not in contexts["element_types"]:
        raise Stop(f"element type `{types[0] if types else 'none'}` is not one porter translates")
    for param in kernel.params:
        if not param.pointer and param.base_type not in contexts["scalar_types"]:
            raise Stop(f"scalar parameter `{param.name}` of type `{param.base_type}`")
    reader = _Reader(kernel, contexts)
    reader.block(kernel.body)
    if not reader.index:
        raise Stop("no thread index `blockIdx.x * blockDim.x + threadIdx.x`")
    if not reader.outputs:
        raise Stop("stores nothing at the thread index")
    result = Elementwise(kernel, reader.length, reader.outputs, tuple(contexts["element_types"][types[0]]))
    in_place = sorted(set(result.inputs) & set(result.outputs))
    if in_place:
        raise OperationStop(f"updates `{in_place[0]}` in place (the generated op returns a new tensor)")
    return result
