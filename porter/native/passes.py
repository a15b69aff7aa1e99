"""One pass per native rule kind. A pass reads the syntax tree and proposes hits: a rule entry found at a byte
range, with the edit that ports it when the entry has a replacement. Only identifiers, calls and include paths
are ever edited, so comments and string literals cannot change.

- `cpp_rename`: identifiers, types, macros and enumerators by name (the node kinds in `contexts.nodes`);
  `ns::name` patterns match qualified names whole; a pattern ending in `*` claims every name with that prefix
  followed by a capital (`cublas*`: `cublasSgemm`, not `cublasish`) or, after `ns::`, anything.
- `cpp_call`: calls (and macro invocations at file scope such as `TORCH_LIBRARY_IMPL(ns, CUDA, m) {...}`)
  whose shape matches `name({a}, {b}, LITERAL)`; the replacement is a template over the placeholders, so
  argument reordering, inserted and removed arguments are data. A placeholder named twice must see the same
  text twice. A call by a known name in a shape no entry covers is reported, unless the rule says
  `report_other_shapes: false` (registrations for other dispatch keys are fine as they are).
- `cpp_include`: `#include` paths, delimiters kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

from porter.native.edits import Edit
from porter.ruleset import Entry, Rule

NAME_NODES = ("identifier", "type_identifier", "namespace_identifier")
_SPACE = re.compile(rb"\s+")


@dataclass(frozen=True)
class Hit:
    rule: Rule
    entry: Entry | None  # None: a call this rule knows by name, in a shape no entry covers
    start: int
    end: int
    original: str
    edit: Edit | None = None

    def shifted(self, delta: int) -> "Hit":
        edit = self.edit and Edit(self.edit.start + delta, self.edit.end + delta, self.edit.template,
                                  {k: (s + delta, e + delta) for k, (s, e) in self.edit.slots.items()})
        return Hit(self.rule, self.entry, self.start + delta, self.end + delta, self.original, edit)


@dataclass(frozen=True)
class Nodes:
    """A syntax tree's nodes in pre-order, read once for every rule's pass (py-tree-sitter builds a new Python
    object for each child on every access): the node, its type, its parent's index (-1 for the root) and the index
    just past its subtree."""

    nodes: list[Node]
    types: list[str]
    parents: list[int]
    ends: list[int]
    _of_types: dict[frozenset[str], list[int]] = field(default_factory=dict, compare=False)
    _names: dict[int, str] = field(default_factory=dict, compare=False)

    def indices_of(self, types: frozenset[str]) -> list[int]:
        """The indices of the nodes of these types, in order (the passes with the same types share them)."""
        found = self._of_types.get(types)
        if found is None:
            found = self._of_types[types] = [index for index, kind in enumerate(self.types) if kind in types]
        return found

    @classmethod
    def of(cls, root: Node) -> "Nodes":
        nodes, parents, stack = [], [], [(root, -1)]
        while stack:
            node, parent = stack.pop()
            index = len(nodes)
            nodes.append(node)
            parents.append(parent)
            stack.extend((child, index) for child in reversed(node.children))
        sizes = [1] * len(nodes)
        for index in range(len(nodes) - 1, 0, -1):
            sizes[parents[index]] += sizes[index]
        return cls(nodes, [node.type for node in nodes], parents, [i + size for i, size in enumerate(sizes)])

    def name(self, data: bytes, index: int) -> str:
        """The node's text as a name (`_name`), read once for every rule's pass."""
        name = self._names.get(index)
        if name is None:
            name = self._names[index] = _name(data, self.nodes[index])
        return name

    def parent_type(self, index: int) -> str | None:
        parent = self.parents[index]
        return self.types[parent] if parent >= 0 else None

    def of_type(self, *types: str):
        return (node for node, kind in zip(self.nodes, self.types) if kind in types)


def _name(data: bytes, node: Node) -> str:
    return _SPACE.sub(b"", data[node.start_byte : node.end_byte]).decode(errors="replace").removeprefix("::")


def _lookup(name: str, exact: dict[str, Entry], prefixes: list[tuple[str, Entry]],
            starts: tuple[str, ...]) -> Entry | None:
    """`starts`: the prefixes alone, which most names begin with none of."""
    entry = exact.get(name)
    if entry is None and name.startswith(starts):
        entry = next((e for p, e in prefixes if _has_prefix(name, p)), None)
    return entry


def _has_prefix(name: str, prefix: str) -> bool:
    """`cublas*` claims `cublasSgemm`, not `cublasish`: after a name prefix comes a capital (or `::`-anything)."""
    if not name.startswith(prefix) or len(name) == len(prefix):
        return False
    return prefix.endswith("::") or name[len(prefix)].isupper()


def _is_scoped_leaf(data: bytes, tree: Nodes, index: int) -> bool:
    """The last segment of `ns::name` (not of `::name`): a bare-name entry must not claim it."""
    parent = tree.parents[index]
    if parent < 0 or tree.types[parent] != "qualified_identifier":
        return False
    while tree.parent_type(parent) == "qualified_identifier":
        parent = tree.parents[parent]
    return "::" in tree.name(data, parent)


def rename_pass(data: bytes, tree: Nodes, rule: Rule) -> list[Hit]:
    exact = {e.pattern: e for e in rule.entries if not e.pattern.endswith("*")}
    prefixes = [(e.pattern[:-1], e) for e in rule.entries if e.pattern.endswith("*")]
    starts = tuple(prefix for prefix, _ in prefixes)
    kinds = frozenset(rule.contexts.get("nodes", NAME_NODES))
    hits = []
    skip_to = 0
    for index in tree.indices_of(kinds | {"qualified_identifier"}):
        if index < skip_to:
            continue
        kind = tree.types[index]
        if kind == "qualified_identifier" and tree.parent_type(index) != "qualified_identifier":
            entry = _lookup(tree.name(data, index), exact, prefixes, starts)
            if entry is not None:
                hits.append(_hit(data, rule, entry, tree.nodes[index]))
                skip_to = tree.ends[index]  # the parts of a matched name are not names of their own
        elif kind in kinds and tree.parent_type(index) != "enumerator":
            entry = _lookup(tree.name(data, index), exact, prefixes, starts)
            if entry is not None and not _is_scoped_leaf(data, tree, index):
                hits.append(_hit(data, rule, entry, tree.nodes[index]))
    return hits


def _hit(data: bytes, rule: Rule, entry: Entry, node: Node) -> Hit:
    edit = None if entry.replacement is None else Edit(node.start_byte, node.end_byte, entry.replacement)
    return Hit(rule, entry, node.start_byte, node.end_byte, _name(data, node), edit)


@dataclass(frozen=True)
class Shape:
    """A call shape from a pattern such as `cudaMemcpy({dst}, {src}, {count}, {kind})`."""

    name: str
    args: tuple[str, ...]  # `{placeholder}` or a literal the argument must spell (spaces ignored)

    @classmethod
    def parse(cls, pattern: str) -> "Shape":
        match = re.fullmatch(r"\s*([\w:]+)\s*\((.*)\)\s*", pattern, re.S)
        if not match:
            raise ValueError(f"not a call pattern: {pattern!r}")
        inside = match.group(2).strip()
        args = tuple(re.sub(r"\s+", "", a) for a in inside.split(",")) if inside else ()
        return cls(match.group(1), args)

    def bind(self, texts: list[str], ranges: list[tuple[int, int]]) -> dict[str, tuple[int, int]] | None:
        """Placeholder -> argument byte range when the arguments fit this shape, else None."""
        if len(texts) != len(self.args):
            return None
        slots: dict[str, tuple[int, int]] = {}
        seen: dict[str, str] = {}
        for want, got, where in zip(self.args, texts, ranges):
            placeholder = re.fullmatch(r"\{(\w+)\}", want)
            if not placeholder:
                if want != got:
                    return None
            elif seen.setdefault(placeholder.group(1), got) != got:
                return None
            else:
                slots[placeholder.group(1)] = where
        return slots


def _call_parts(node: Node) -> tuple[Node, list[Node]] | None:
    """(callee, arguments) of a call, or of a macro invocation tree-sitter read as a function declarator."""
    if node.type == "call_expression":
        callee, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
    elif node.type == "function_declarator":
        callee, arguments = node.child_by_field_name("declarator"), node.child_by_field_name("parameters")
        definition = node.parent
        if (callee is None or callee.type != "identifier" or definition.type != "function_definition"
                or definition.child_by_field_name("type") is not None):
            return None  # a real declarator, not `MACRO(args) { ... }`
    else:
        return None
    if callee is None or arguments is None or arguments.type not in ("argument_list", "parameter_list"):
        return None
    return callee, [a for a in arguments.named_children if a.type != "comment"]


def call_pass(data: bytes, tree: Nodes, rule: Rule) -> list[Hit]:
    shapes: dict[str, list[tuple[Shape, Entry]]] = {}
    for entry in rule.entries:
        shape = Shape.parse(entry.pattern)
        shapes.setdefault(shape.name, []).append((shape, entry))
    report_other_shapes = rule.contexts.get("report_other_shapes", True)
    hits = []
    for node in tree.of_type("call_expression", "function_declarator"):
        parts = _call_parts(node)
        if parts is None:
            continue
        callee, arguments = parts
        name = _name(data, callee)
        if name not in shapes:
            continue
        texts = [_name(data, a) for a in arguments]
        ranges = [(a.start_byte, a.end_byte) for a in arguments]
        for shape, entry in shapes[name]:
            slots = shape.bind(texts, ranges)
            if slots is not None:
                edit = None if entry.replacement is None else Edit(node.start_byte, node.end_byte,
                                                                    entry.replacement, slots)
                hits.append(Hit(rule, entry, node.start_byte, node.end_byte, name, edit))
                break
        else:
            if report_other_shapes:
                hits.append(Hit(rule, None, node.start_byte, node.end_byte, name))
    return hits


def include_pass(data: bytes, tree: Nodes, rule: Rule) -> list[Hit]:
    entries = {e.pattern: e for e in rule.entries}
    hits = []
    for node in tree.of_type("preproc_include"):
        path = node.child_by_field_name("path")
        if path is None or path.type not in ("system_lib_string", "string_literal"):
            continue
        inner_start, inner_end = path.start_byte + 1, path.end_byte - 1
        header = data[inner_start:inner_end].decode(errors="replace")
        entry = entries.get(header)
        if entry is not None:
            edit = None if entry.replacement is None else Edit(inner_start, inner_end, entry.replacement)
            hits.append(Hit(rule, entry, inner_start, inner_end, header, edit))
    return hits


PASSES: dict[str, Callable[[bytes, Nodes, Rule], list[Hit]]] = {
    "cpp_rename": rename_pass,
    "cpp_call": call_pass,
    "cpp_include": include_pass,
}
