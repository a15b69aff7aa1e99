"""Parsing native files with tree-sitter: the grammar by file suffix, tree walks, spans.

CUDA sources and C headers (.cu, .cuh, .h: headers of CUDA projects often hold device code) use
tree-sitter-cuda, which knows `__global__`, `__shared__` and `<<<...>>>` launches; C++ sources use
tree-sitter-cpp, whose newer C++ grammar parses modern template code better. The measurements behind the
choice are in docs/design.md.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator

import tree_sitter_cpp
import tree_sitter_cuda
from tree_sitter import Language, Node, Parser, Tree

from porter.findings import Span

CUDA_SUFFIXES = (".cu", ".cuh")
CUDA_GRAMMAR_SUFFIXES = (*CUDA_SUFFIXES, ".h")


@functools.cache
def parser(grammar: str) -> Parser:
    module = tree_sitter_cuda if grammar == "cuda" else tree_sitter_cpp
    return Parser(Language(module.language()))


def grammar_for(relpath: str) -> str:
    return "cuda" if relpath.lower().endswith(CUDA_GRAMMAR_SUFFIXES) else "cpp"


def parse(data: bytes, relpath: str) -> Tree:
    return parser(grammar_for(relpath)).parse(data)


def walk(root: Node) -> Iterator[Node]:
    """Every node, in source order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def error_nodes(root: Node) -> list[Node]:
    """ERROR and MISSING nodes: where the grammar gave up on the text."""
    if not root.has_error:
        return []
    return [n for n in walk(root) if n.type == "ERROR" or n.is_missing]


def text(data: bytes, node: Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def span(node: Node, line_offset: int = 0) -> Span:
    (line, col), (end_line, end_col) = node.start_point, node.end_point
    return Span(line + 1 + line_offset, col + 1, end_line + 1 + line_offset, end_col)


class Locator:
    """Byte offsets of one buffer -> report spans (1-based lines and columns, as for nodes)."""

    def __init__(self, data: bytes):
        self._line_starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]

    def span(self, start: int, end: int) -> Span:
        line = bisect.bisect_right(self._line_starts, start) - 1
        end_line = bisect.bisect_right(self._line_starts, max(start, end - 1)) - 1
        return Span(line + 1, start - self._line_starts[line] + 1, end_line + 1, end - self._line_starts[end_line])
