"""The ops a .cu file registers (`TORCH_LIBRARY_IMPL(ns, CUDA, m) { m.impl("op", &fn); }`) and how each op's host
function feeds its kernel launch: which tensor is which kernel pointer, which scalar, which length."""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from porter.kernels.inventory import Kernel, Launch
from porter.kernels.ir import Stop
from porter.kernels.syntax import call_name, compact, declarator_name, text, walk

POINTER_CALLS = ("data_ptr", "mutable_data_ptr", "const_data_ptr")
ALLOCATIONS = ("empty_like", "zeros_like", "empty", "zeros", "ones_like")


@dataclass(frozen=True)
class HostParam:
    name: str
    kind: str  # tensor | float | int | bool
    cpp_type: str


@dataclass
class OpBinding:
    namespace: str
    name: str
    function: str  # the CUDA host function registered
    params: list[HostParam]
    kernel: str = ""
    # kernel parameter -> ("input", host tensor) | ("output", host tensor it is shaped like) | ("scalar", host param)
    #                     | ("numel", host tensor)
    args: dict[str, tuple[str, str]] = field(default_factory=dict)
    returns: str = ""  # the kernel output parameter the op returns
    dispatch: str = ""  # the AT_DISPATCH_... call around the launch (its source text), if any
    return_type: str = ""  # the host function's, once its signature was read


def _host_kind(type_text: str) -> str:
    bare = compact(type_text).removeprefix("const").replace("&", "")
    if bare.endswith("Tensor"):
        return "tensor"
    if bare in ("double", "float"):
        return "float"
    if bare == "bool":
        return "bool"
    if bare in ("int64_t", "int", "long", "int32_t"):
        return "int"
    return ""


def registrations(definitions: list[Node]) -> list[tuple[str, str, str, Node]]:
    """(namespace, op name, host function, node) for each `m.impl` inside `TORCH_LIBRARY_IMPL(ns, CUDA, m)`."""
    found = []
    for node in definitions:
        declarator = node.child_by_field_name("declarator")
        if declarator is None or declarator.type != "function_declarator" or \
                text(declarator.child_by_field_name("declarator")) != "TORCH_LIBRARY_IMPL":
            continue
        macro_args = [compact(p) for p in declarator.child_by_field_name("parameters").named_children]
        if len(macro_args) != 3 or macro_args[1] != "CUDA":
            continue
        for call in walk(node.child_by_field_name("body")):
            if call.type != "call_expression" or call_name(call) != "impl":
                continue
            args = call.child_by_field_name("arguments").named_children
            if len(args) == 2 and args[0].type == "string_literal":
                target = args[1]
                while target.type in ("pointer_expression", "call_expression"):
                    inner = target.child_by_field_name("argument") if target.type == "pointer_expression" else \
                        (target.child_by_field_name("arguments").named_children or [None])[0]
                    if inner is None:
                        break
                    target = inner
                found.append((macro_args[0], text(args[0]).strip('"'), compact(target).split("::")[-1], call))
    return found


def functions(definitions: list[Node]) -> dict[str, Node]:
    found = {}
    for node in definitions:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator")
        if declarator is not None:
            found[compact(declarator.child_by_field_name("declarator")).split("::")[-1]] = node
    return found


def host_params(function: Node) -> list[HostParam]:
    declarator = function.child_by_field_name("declarator")
    while declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    params = []
    for node in declarator.child_by_field_name("parameters").named_children:
        type_text = text(node).rsplit(declarator_name(node.child_by_field_name("declarator")), 1)[0]
        kind = _host_kind(type_text)
        if not kind:
            raise Stop(f"host parameter `{compact(node)}` is not a tensor or a number")
        params.append(HostParam(declarator_name(node.child_by_field_name("declarator")), kind, " ".join(type_text.split())))
    return params


def _uncast(node: Node) -> Node:
    """The value inside parentheses, C casts and `static_cast<T>(...)`."""
    while True:
        if node.type in ("parenthesized_expression", "cast_expression"):
            node = node.child_by_field_name("value") or node.named_children[-1]
        elif node.type == "call_expression" and call_name(node) in ("static_cast", "reinterpret_cast"):
            node = node.child_by_field_name("arguments").named_children[0]
        else:
            return node


class _Tracer:
    """Follows a host function's local variables back to its parameters."""

    def __init__(self, function: Node, params: list[HostParam]):
        self.params = {p.name: p for p in params}
        self.locals: dict[str, Node] = {}
        for node in walk(function.child_by_field_name("body")):
            if node.type == "init_declarator":
                self.locals[declarator_name(node)] = node.child_by_field_name("value")

    def tensor(self, node: Node) -> tuple[str, str]:
        """("input", param) for a parameter (or its .contiguous()), ("output", like) for an allocation."""
        node = _uncast(node)
        if node.type == "identifier":
            name = text(node)
            if name in self.params and self.params[name].kind == "tensor":
                return "input", name
            if name in self.locals:
                kind, source = self.tensor(self.locals[name])
                return kind, (source if kind == "input" else f"{source}|{name}")
        if node.type == "call_expression":
            called = call_name(node)
            function = node.child_by_field_name("function")
            if called in ("contiguous", "view", "reshape", "flatten") and function.type == "field_expression":
                return self.tensor(function.child_by_field_name("argument"))
            if called in ALLOCATIONS:
                args = node.child_by_field_name("arguments").named_children
                for arg in args:
                    for ident in walk(arg):
                        if ident.type == "identifier" and (ident.text.decode() in self.params or ident.text.decode() in self.locals):
                            kind, source = self.tensor(ident)
                            if kind == "input":
                                return "output", source
        raise Stop(f"host value `{compact(node)[:50]}` cannot be traced to the op's tensors")

    def argument(self, node: Node) -> tuple[str, str]:
        node = _uncast(node)
        if node.type == "call_expression" and call_name(node) in POINTER_CALLS + ("numel",):
            owner = node.child_by_field_name("function").child_by_field_name("argument")
            kind, source = self.tensor(owner)
            if call_name(node) == "numel":
                return "numel", source.split("|")[0]
            return kind, source
        if node.type == "identifier":
            name = text(node)
            if name in self.params and self.params[name].kind != "tensor":
                return "scalar", name
            if name in self.locals:
                return self.argument(self.locals[name])
        raise Stop(f"launch argument `{compact(node)[:50]}` cannot be traced to the op's inputs")


def _dispatch(node: Node) -> str:
    """The source of the `AT_DISPATCH_*` call whose lambda holds the launch, or ""."""
    while node is not None and node.type != "function_definition":
        if node.type == "call_expression" and call_name(node).startswith("AT_DISPATCH_"):
            return text(node)[: text(node).find("[")]  # the macro name and its arguments before the lambda
        node = node.parent
    return ""


def bind(op: OpBinding, function: Node, launch: Launch, kernel: Kernel) -> None:
    """Fill `op.args`/`op.returns` from the host function's launch of `kernel`."""
    tracer = _Tracer(function, op.params)
    if len(launch.args) != len(kernel.params):
        raise Stop(f"the launch passes {len(launch.args)} arguments to a kernel of {len(kernel.params)}")
    outputs = {}
    for param, arg in zip(kernel.params, launch.args):
        kind, source = tracer.argument(arg)
        if kind == "output":
            like, local = source.split("|")
            outputs[local] = param.name
            source = like
        op.args[param.name] = (kind, source)
    op.kernel = kernel.name
    op.dispatch = _dispatch(launch.node)
    for node in walk(function.child_by_field_name("body")):
        if node.type == "return_statement" and node.named_children:
            op.returns = outputs.get(compact(node.named_children[0]), "")
    if not op.returns:
        raise Stop("the op does not return the tensor its kernel writes")
