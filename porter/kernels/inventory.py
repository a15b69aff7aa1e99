"""What a .cu file holds: its `__global__` kernels (parameters, features used) and its `<<<...>>>` launches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from porter.kernels.syntax import call_name, declarator_name, text, walk

FEATURES = ("shared", "atomics", "warp", "barrier", "tensor_core", "ptx")


@dataclass(frozen=True)
class Param:
    name: str
    base_type: str  # `float` of `const float* __restrict__ x`
    pointer: bool
    const: bool


@dataclass
class Kernel:
    name: str
    node: Node  # the function_definition
    params: list[Param]
    template_params: list[str]
    body: Node
    features: dict[str, list[Node]] = field(default_factory=dict)  # feature -> the nodes using it

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass
class Launch:
    kernel: str
    node: Node  # the call_expression
    config: list[str]  # grid, block[, shared bytes[, stream]]
    args: list[Node]
    function: Node | None  # the enclosing function_definition


def _param(node: Node) -> Param:
    declarator = node.child_by_field_name("declarator")
    pointer = False
    probe = declarator
    while probe is not None and probe.type in ("pointer_declarator", "reference_declarator", "abstract_pointer_declarator"):
        pointer = pointer or probe.type != "reference_declarator"
        probe = probe.child_by_field_name("declarator") or next(
            (c for c in probe.named_children if c.type.endswith("declarator") or c.type == "identifier"), None)
    const = any(c.type == "type_qualifier" and text(c) == "const" for c in node.children)
    return Param(declarator_name(declarator), text(node.child_by_field_name("type")), pointer, const)


def _template_params(function: Node) -> list[str]:
    parent = function.parent
    if parent is None or parent.type != "template_declaration":
        return []
    plist = parent.child_by_field_name("parameters")
    names = []
    for child in plist.named_children if plist else ():
        ident = next((c for c in child.named_children if c.type in ("type_identifier", "identifier")), None)
        names.append(text(ident))
    return names


def _features(body: Node, patterns: dict[str, re.Pattern[str]]) -> dict[str, list[Node]]:
    found: dict[str, list[Node]] = {}
    for node in walk(body):
        if node.type == "type_qualifier" and text(node) == "__shared__":
            found.setdefault("shared", []).append(node)
        elif node.type == "gnu_asm_expression":
            found.setdefault("ptx", []).append(node)
        elif node.type in ("identifier", "namespace_identifier", "field_identifier", "type_identifier"):
            name = text(node)
            for feature, pattern in patterns.items():
                if pattern.match(name):
                    found.setdefault(feature, []).append(node)
    return found


def kernels(functions: list[Node], patterns: dict[str, re.Pattern[str]]) -> list[Kernel]:
    found = []
    for node in functions:
        if not any(c.type == "__global__" for c in node.children):
            continue
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator")
        body = node.child_by_field_name("body")
        if declarator is None or body is None:
            continue
        plist = declarator.child_by_field_name("parameters")
        params = [_param(p) for p in plist.named_children if p.type == "parameter_declaration"]
        found.append(Kernel(text(declarator.child_by_field_name("declarator")), node, params,
                            _template_params(node), body, _features(body, patterns)))
    return found


def _enclosing_function(node: Node) -> Node | None:
    while node is not None and node.type != "function_definition":
        node = node.parent
    return node


def launches(calls: list[Node]) -> list[Launch]:
    found = []
    for node in calls:
        config = next(c for c in node.children if c.type == "kernel_call_syntax")
        arguments = node.child_by_field_name("arguments")
        found.append(Launch(call_name(node), node, [text(c) for c in config.named_children],
                            list(arguments.named_children) if arguments else [], _enclosing_function(node)))
    return found
