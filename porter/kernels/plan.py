"""What porter will generate for one .cu file: a plan per kernel (synthesised or scaffold, and why) and per op."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from porter.kernels import host
from porter.kernels.classify import Classification, classify
from porter.kernels.inventory import Kernel, Launch
from porter.kernels.ir import Broadcast, Elementwise, Op, OperationStop, Stop, read_elementwise
from porter.kernels.lower import VectorProgram, torch_expr, vector_program

DTYPES = {"float": ("at::kFloat", 4, "fp32"), "half": ("at::kHalf", 2, "fp16"), "bfloat16_t": ("at::kBFloat16", 2, "bf16")}
PARITY_SHAPE = [8, 129]  # rows x columns: 1032 elements, neither a multiple of a tile nor of 32 bytes
PARITY_SCALARS = {"float": 0.75, "int": 3, "bool": True}


@dataclass
class KernelPlan:
    kernel: Kernel
    elementwise: Elementwise | None
    program: VectorProgram | None
    reason: str  # why synthesis stopped ("" when synthesised)
    classification: Classification

    @property
    def synthesised(self) -> bool:
        return self.program is not None

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self.elementwise.dtypes if self.elementwise else ("float",)

    @property
    def gm(self) -> list[str]:
        if self.elementwise and self.program:
            used = set(self.elementwise.inputs) | set(self.elementwise.outputs)
            return [p.name for p in self.kernel.params if p.name in used]
        return [p.name for p in self.kernel.params if p.pointer]

    @property
    def scalars(self) -> list[str]:
        length = self.elementwise.length if self.elementwise else ""
        return [p.name for p in self.kernel.params if not p.pointer and p.name != length]

    @property
    def length(self) -> str:
        return self.elementwise.length if self.elementwise else ""


def op_dtypes(binding: host.OpBinding, plan: KernelPlan, spellings: dict[str, list[str]]) -> tuple[str, ...]:
    """The kernel's types the host dispatch macro lets through (all of them without a macro)."""
    if not binding.dispatch:
        return plan.dtypes
    return tuple(d for d in plan.dtypes if any(word in binding.dispatch for word in spellings.get(d, ())))


@dataclass
class OpPlan:
    binding: host.OpBinding
    kernel: KernelPlan | None
    reason: str = ""  # why the op has no host wrapper or no composite
    node: object = None  # the registration (`m.impl(...)`), for the report
    composite: str = ""
    composite_setup: list[str] = field(default_factory=list)
    broadcast: set[str] = field(default_factory=set)  # host tensors read as broadcast operands


def plan_kernel(kernel: Kernel, contexts: dict) -> KernelPlan:
    instructions = {op: names[0] for op, names in contexts["vector_ops"].items()}
    elementwise, program, reason = None, None, ""
    try:
        if kernel.node.has_error:
            raise Stop("the kernel does not parse cleanly")
        elementwise = read_elementwise(kernel, contexts)
        program = vector_program(elementwise.outputs, instructions)
        if len(elementwise.outputs) > 1:
            raise OperationStop(f"{len(elementwise.outputs)} outputs (one per op is generated)")
    except Stop as stop:
        program, reason = None, str(stop)
        shaped = elementwise is not None or isinstance(stop, OperationStop)
    else:
        shaped = True
    return KernelPlan(kernel, elementwise, program, reason, classify(kernel, program is not None, shaped))


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def default_ops(stem: str, plans: list[KernelPlan], functions: dict[str, str]) -> list[OpPlan]:
    """Ops for kernels whose registration is not in this file: `porter_<stem>::<kernel>`, tensors in kernel order."""
    ops = []
    for plan in plans:
        ew = plan.elementwise
        if ew is None or len(ew.outputs) != 1:
            continue
        params, args = [], {}
        for param in plan.kernel.params:
            if param.name in ew.outputs:
                continue
            if param.pointer:
                params.append(host.HostParam(param.name, "tensor", "const at::Tensor&"))
                args[param.name] = ("input", param.name)
            elif param.name == ew.length:
                args[param.name] = ("numel", ew.inputs[0])
            else:
                kind = "float" if param.base_type in ("float", "double") else "int"
                params.append(host.HostParam(param.name, kind, "double" if kind == "float" else "int64_t"))
                args[param.name] = ("scalar", param.name)
        output = next(iter(ew.outputs))
        args[output] = ("output", ew.inputs[0])
        binding = host.OpBinding(f"porter_{_identifier(stem)}", plan.kernel.name, plan.kernel.name, params,
                                 plan.kernel.name, args, output)
        ops.append(_with_composite(OpPlan(binding, plan), ew, plan, functions))
    return ops


def bound_ops(definitions: list, kernels: dict[str, KernelPlan], launches: list[Launch],
              torch_functions: dict[str, str]) -> list[OpPlan]:
    functions = host.functions(definitions)
    ops = []
    for namespace, name, function_name, node in host.registrations(definitions):
        binding = host.OpBinding(namespace, name, function_name, [])
        op = OpPlan(binding, None, node=node)
        ops.append(op)
        function = functions.get(function_name)
        try:
            if function is None:
                raise Stop(f"host function `{function_name}` is not in this file")
            if function.has_error:
                raise Stop(f"host function `{function_name}` does not parse cleanly")
            binding.params = host.host_params(function)
            binding.return_type = " ".join(function.child_by_field_name("type").text.decode(errors="replace").split())
            launched = [launch for launch in launches if launch.function == function and launch.kernel in kernels]
            if len(launched) != 1:
                raise Stop(f"`{function_name}` launches {len(launched)} kernels of this file (one is generated per op)")
            op.kernel = kernels[launched[0].kernel]
            host.bind(binding, function, launched[0], op.kernel.kernel)
        except Stop as stop:
            op.reason = str(stop)
            continue
        if op.kernel.elementwise is not None:
            _with_composite(op, op.kernel.elementwise, op.kernel, torch_functions)
        else:
            op.reason = op.kernel.reason
    return ops


def _with_composite(op: OpPlan, ew: Elementwise, plan: KernelPlan, functions: dict[str, str]) -> OpPlan:
    names, setup = {}, []
    binding = op.binding
    setup.append(f"numel = {binding.args[ew.length][1]}.numel()")
    for param in plan.kernel.params:
        kind, source = binding.args[param.name]
        if kind == "input":
            names[param.name] = f"{param.name}_flat"
            setup.append(f"{param.name}_flat = _wide({source}).reshape(-1)")
        elif kind == "scalar":
            names[param.name] = source
        elif kind == "numel":
            names[param.name] = f"{source}.numel()"
    expr = ew.outputs[binding.returns]
    op.composite = torch_expr(expr, functions, names)
    op.composite_setup = setup
    op.broadcast = {binding.args[p][1] for p in _broadcast_params(expr)}
    return op


def _broadcast_params(expr) -> set[str]:
    if isinstance(expr, Broadcast):
        return {expr.param}
    if isinstance(expr, Op):
        return set().union(*(_broadcast_params(a) for a in expr.args))
    return set()
