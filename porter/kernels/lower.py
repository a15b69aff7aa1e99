"""The elementwise IR lowered twice: to Ascend C vector instructions over a tile, and to a torch expression."""

from __future__ import annotations

from dataclasses import dataclass, field

from porter.kernels.ir import Broadcast, Const, Expr, Load, OperationStop, Scalar, is_scalar

SCALAR_OPS = {"add": "adds", "mul": "muls", "max": "maxs", "min": "mins"}  # tensor-with-scalar forms
UNARY = ("exp", "log", "abs", "sqrt", "rsqrt", "relu")
PY_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _literal(value: float) -> str:
    return f"{value!r}f" if value != int(value) or abs(value) >= 1e16 else f"{int(value)}.0f"


def scalar_cpp(expr: Expr) -> str:
    """A scalar subexpression as C++ float arithmetic over the kernel's scalar parameters."""
    if isinstance(expr, Const):
        return _literal(expr.value)
    if isinstance(expr, Scalar):
        return f"this->{expr.param}"
    if expr.name == "neg":
        return f"(-{scalar_cpp(expr.args[0])})"
    if expr.name in PY_BINARY:
        return f"({scalar_cpp(expr.args[0])} {PY_BINARY[expr.name]} {scalar_cpp(expr.args[1])})"
    raise OperationStop(f"`{expr.name}` of scalars only (compute it on the host)")


@dataclass
class VectorProgram:
    """Ascend C statements computing every output tile from the input tiles, `count` elements at a time, in float
    (`<param>Calc` locals): CUDA's half and bfloat16 operators compute in float too."""

    instructions: dict[str, str]  # IR op -> Ascend C instruction name (rule data)
    statements: list[str] = field(default_factory=list)
    temps: int = 0
    used: set[str] = field(default_factory=set)  # Ascend C instructions emitted
    computed: dict = field(default_factory=dict)  # subexpression -> the temp holding it (a value is computed once)

    def emit(self, op: str, *operands: str) -> None:
        name = self.instructions[op]
        if not name:
            raise OperationStop(f"`{op}` has no basic Ascend C vector instruction (only a composite is generated)")
        self.used.add(name)
        self.statements.append(f"AscendC::{name}({', '.join(operands)}, count);")

    def temp(self) -> str:
        self.temps += 1
        return f"tmp{self.temps - 1}"

    def tensor(self, expr: Expr, dst: str | None = None) -> str:
        """Emit the instructions for a tensor-valued expression; returns the local holding it."""
        if isinstance(expr, Load):
            if dst is None:
                return f"{expr.param}Calc"
            self.emit("muls", dst, f"{expr.param}Calc", "static_cast<float>(1.0f)")  # a plain copy, bit-exact
            return dst
        if isinstance(expr, Broadcast):
            raise OperationStop(f"operand `{expr.param}[i % {expr.period}]` is broadcast")
        if is_scalar(expr):
            raise OperationStop("an output that does not depend on any input")
        if dst is None and expr in self.computed:
            return self.computed[expr]
        out = dst or self.temp()
        self.computed.setdefault(expr, out)
        name, args = expr.name, expr.args
        if name == "neg":
            self.emit("muls", out, self.tensor(args[0]), "static_cast<float>(-1.0f)")
        elif name in UNARY or name == "tanh":
            self.emit(name, out, self.tensor(args[0]))
        elif name == "leaky_relu":
            self.emit(name, out, self.tensor(args[0]), f"static_cast<float>({scalar_cpp(args[1])})")
        elif not is_scalar(args[0]) and not is_scalar(args[1]):
            self.emit(name, out, self.tensor(args[0]), self.tensor(args[1]))
        else:
            self._with_scalar(name, args, out)
        return out

    def _with_scalar(self, name: str, args: tuple, out: str) -> None:
        tensor_first = not is_scalar(args[0])
        tensor, scalar = (args[0], args[1]) if tensor_first else (args[1], args[0])
        value = scalar_cpp(scalar)
        if name in SCALAR_OPS:  # commutative
            self.emit(SCALAR_OPS[name], out, self.tensor(tensor), f"static_cast<float>({value})")
        elif name == "sub" and tensor_first:
            self.emit("adds", out, self.tensor(tensor), f"static_cast<float>(-{value})")
        elif name == "sub":
            self.emit("muls", out, self.tensor(tensor), "static_cast<float>(-1.0f)")
            self.emit("adds", out, out, f"static_cast<float>({value})")
        else:  # division by (or of) a scalar: broadcast it, so the rounding is that of one division
            filled = self.temp()
            self.used.add(self.instructions["duplicate"])
            self.statements.append(f"AscendC::{self.instructions['duplicate']}({filled}, static_cast<float>({value}), count);")
            operands = (self.tensor(tensor), filled) if tensor_first else (filled, self.tensor(tensor))
            self.emit("div", out, *operands)


def vector_program(outputs: dict[str, Expr], instructions: dict[str, str]) -> VectorProgram:
    program = VectorProgram(instructions)
    for param, expr in outputs.items():
        program.tensor(expr, dst=f"{param}Calc")
    return program


def torch_expr(expr: Expr, functions: dict[str, str], names: dict[str, str]) -> str:
    """The same computation in torch ops; `names` maps kernel parameters to Python expressions (flat tensors)."""
    if isinstance(expr, (Load, Scalar)):
        return names[expr.param]
    if isinstance(expr, Broadcast):
        return f"_cycle({names[expr.param]}, {names[expr.period]}, numel)"
    if isinstance(expr, Const):
        return repr(expr.value)
    args = [torch_expr(a, functions, names) for a in expr.args]
    if expr.name in PY_BINARY:
        return f"({args[0]} {PY_BINARY[expr.name]} {args[1]})"
    if expr.name == "neg":
        return f"(-{args[0]})"
    if expr.name in ("max", "min") and (is_scalar(expr.args[0]) or is_scalar(expr.args[1])):
        tensor, scalar = (args[0], args[1]) if not is_scalar(expr.args[0]) else (args[1], args[0])
        return f"{functions[SCALAR_OPS[expr.name]]}({tensor}, {scalar})"
    return f"{functions[expr.name]}({', '.join(args)})"
