"""The C/C++/CUDA frontend: a tree-sitter inventory of what a native file uses from CUDA (never a rewrite yet).

Identifiers are read from the syntax tree, so comments and string literals never count.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import tree_sitter_cpp
from tree_sitter import Language, Node, Parser

from porter.findings import STATUS_OF_ENTRY, Finding, Span
from porter.ruleset import Rule

# After the `__global__` token: optional launch bounds, the return type, then the kernel's name and its `(`.
_KERNEL_AFTER_GLOBAL = re.compile(rb"\s*(?:__launch_bounds__\s*\([^)]*\)\s*)?[\w:<>,\s*&]*?(\w+)\s*\(")


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_cpp.language()))


def _nodes(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _span(node: Node) -> Span:
    (line, col), (end_line, end_col) = node.start_point, node.end_point
    return Span(line + 1, col + 1, end_line + 1, end_col)


def inventory(data: bytes, rule: Rule) -> list[Finding]:
    """One finding per CUDA kernel definition, per distinct CUDA/NCCL API name (first use, with a count),
    and per CUDA header included."""
    api = re.compile(rule.contexts["api"])
    headers = re.compile(rule.contexts["headers"])
    entries = {e.pattern: e for e in rule.entries}
    first_use: dict[str, Node] = {}
    uses: Counter[str] = Counter()
    findings = []

    def add(kind: str, node: Node, text: str, detail: str) -> None:
        entry = entries[kind]
        findings.append(Finding(rule.id, rule.category, STATUS_OF_ENTRY[entry.status],
                                f"{entry.message} ({detail})", _span(node), text))

    for node in _nodes(_parser().parse(data).root_node):
        text = data[node.start_byte : node.end_byte]
        if text == b"__global__" and node.type != "comment":  # its parse varies (type, attribute, error)
            match = _KERNEL_AFTER_GLOBAL.match(data, node.end_byte)
            if match:
                head = data[node.start_byte : match.end(1)].decode(errors="replace")
                add("kernel", node, " ".join(head.split()), f"kernel `{match.group(1).decode()}`")
        elif node.type == "preproc_include":
            path = data[node.start_byte : node.end_byte].decode(errors="replace").strip()
            if headers.search(path):
                add("header", node, path, path.split(None, 1)[-1])
        elif node.type in ("identifier", "type_identifier", "namespace_identifier"):
            name = data[node.start_byte : node.end_byte].decode(errors="replace")
            if api.match(name):
                uses[name] += 1
                first_use.setdefault(name, node)
    for name, node in first_use.items():
        add("api", node, name, f"`{name}` used {uses[name]} time(s)")
    return sorted(findings, key=lambda f: (f.span.line, f.span.column))
