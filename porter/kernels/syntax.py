"""tree-sitter-cuda helpers: it knows `__global__`, `__shared__` and `<<<...>>>`, so kernels parse without ERROR nodes."""

from __future__ import annotations

import functools

import tree_sitter_cuda
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from porter.findings import Span


@functools.cache
def _language() -> Language:
    return Language(tree_sitter_cuda.language())


@functools.cache
def parser() -> Parser:
    return Parser(_language())


@functools.cache
def _outline_query() -> Query:
    return Query(_language(), "(function_definition) @function (call_expression (kernel_call_syntax)) @launch")


def outline(root: Node) -> tuple[list[Node], list[Node]]:
    """Every function definition and every `<<<...>>>` launch, in source order (found by tree-sitter, not Python)."""
    captures = QueryCursor(_outline_query()).captures(root)
    order = lambda node: node.start_byte  # noqa: E731
    return sorted(captures.get("function", []), key=order), sorted(captures.get("launch", []), key=order)


def parse(data: bytes) -> Node:
    return parser().parse(data).root_node


def walk(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def text(node: Node | None) -> str:
    return "" if node is None else node.text.decode(errors="replace")


def span(node: Node) -> Span:
    (line, col), (end_line, end_col) = node.start_point, node.end_point
    return Span(line + 1, col + 1, end_line + 1, end_col)


def compact(node: Node | str) -> str:
    """Source text without whitespace, for comparing expression shapes."""
    return "".join((node if isinstance(node, str) else text(node)).split())


def declarator_name(node: Node | None) -> str:
    """The identifier a (pointer/reference/array/init) declarator declares."""
    while node is not None and node.type not in ("identifier", "field_identifier"):
        node = node.child_by_field_name("declarator") or next(
            (c for c in node.named_children if c.type.endswith("declarator") or c.type == "identifier"), None)
    return text(node)


def call_name(call: Node) -> str:
    """`expf` of `expf(x)`, `impl` of `m.impl(...)`, `static_cast` of `static_cast<float>(x)`."""
    return _name_of(call.child_by_field_name("function"))


def _name_of(node: Node | None) -> str:
    if node is None:
        return ""
    if node.type == "field_expression":
        return _name_of(node.child_by_field_name("field"))
    if node.type in ("qualified_identifier", "template_function", "template_method"):
        return _name_of(node.child_by_field_name("name"))
    return text(node)
