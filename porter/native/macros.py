"""`#define` bodies are raw text to tree-sitter. Each body that mentions something a rule knows is parsed on its
own, inside a function so that statements, `do { } while (0)` and expressions all parse, and the passes run on
that tree; the hits are mapped back to the file's byte offsets. A body that still does not parse is reported
and left as it is."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

_PREFIX = b"void __porter_macro_body__() {\n"
_SUFFIX = b";\n}\n"
_STRINGIFY = re.compile(rb"(?<!#)#\s*([A-Za-z_]\w*)")


def _maskable(body: bytes) -> bytes:
    """Same length, parseable: `#x` becomes a string literal, `a##b` one identifier (edits never touch either)."""
    body = body.replace(b"##", b"__")
    return _STRINGIFY.sub(lambda m: b'"' + b"_" * (len(m.group(0)) - 2) + b'"', body)


def bodies(root: Node) -> Iterator[Node]:
    """The value of every `#define`."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "preproc_arg" and node.parent.type in ("preproc_def", "preproc_function_def"):
            yield node
        else:
            stack.extend(node.children)


def wrap(data: bytes, body: Node) -> tuple[bytes, int]:
    """(parseable text, delta to add to its offsets to get the file's)."""
    return _PREFIX + _maskable(data[body.start_byte : body.end_byte]) + _SUFFIX, body.start_byte - len(_PREFIX)
