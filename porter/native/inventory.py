"""NAT002: a tree-sitter inventory of what a native file still uses from CUDA after the rewrite.

Identifiers are read from the syntax tree, so comments and string literals never count.
"""

from __future__ import annotations

import re
from collections import Counter

from tree_sitter import Node

from porter.findings import Finding, entry_finding
from porter.native.syntax import parse, span, walk
from porter.ruleset import Rule

KERNEL_KEYWORD = b"__global__"  # the kernel inventory is what this rule kind is for
# After the kernel keyword: optional launch bounds, the return type, then the kernel's name and its `(`.
_KERNEL_AFTER_KEYWORD = re.compile(rb"\s*(?:__launch_bounds__\s*\([^)]*\)\s*)?[\w:<>,\s*&]*?(\w+)\s*\(")


def inventory(data: bytes, rule: Rule, relpath: str = "x.cu") -> list[Finding]:
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
        findings.append(entry_finding(rule, entry, span(node), text, detail=detail))

    for node in walk(parse(data, relpath).root_node):
        text = data[node.start_byte : node.end_byte]
        if text == KERNEL_KEYWORD and node.type != "comment":  # its parse varies by grammar
            match = _KERNEL_AFTER_KEYWORD.match(data, node.end_byte)
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
