"""Positions of every node but trivia, computed in one code generation that counts tokens instead of lines.

libcst's PositionProvider generates the module's code and, for each node and each token, builds frozen
`CodePosition`/`CodeRange` objects, splits the token on newlines and enters a generator-based context manager:
five times the cost of generating the code. Here the generation records each node's start and end offset in the
text (with libcst's own rules: a node's syntactic position, recorded inside its code generation, wins over the
whitespace-inclusive one, and may be hoisted from a child), and an offset becomes a line and a column only when a
rule asks for that node. The result is what PositionProvider computes (tests/test_positions.py compares them).
A position is recorded as the number of tokens generated before it, which costs no counting per token, and
becomes a character offset when it is read.

libcst's resolver also runs a batched walk of the whole tree with no visitor in it (libcst 1.9,
`metadata.wrapper._gen_batchable`); storing the positions where the wrapper looks first skips that too.
"""

from __future__ import annotations

import inspect
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate

import libcst as cst
from libcst._nodes.expression import _BaseParenthesizedNode  # its `_parenthesize` is entered for every expression
from libcst._nodes.internal import CodegenState  # the protocol every node's code generation calls
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE

from porter.findings import Span
from porter.python.walk import TRIVIA_BASES


class _SyntacticPosition:
    """What `CodegenState.record_syntactic_position` returns: a context manager, as a class (libcst's is a
    generator, which costs more than the code generation of most nodes)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: _OffsetState, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(self, *exc_info) -> None:
        state = self.state
        start = self.start if self.start_node is None else _offsets(state.syntactic, state.extents, self.start_node)[0]
        end = len(state.tokens) if self.end_node is None else _offsets(state.syntactic, state.extents, self.end_node)[1]
        state.syntactic[id(self.node)] = (start, end)


class _Parenthesized:
    """What an expression's `_parenthesize` returns while positions are recorded: a context manager as a class
    (libcst's is a generator, and every expression enters one)."""

    __slots__ = ("state", "node", "start")

    def __init__(self, node: cst.BaseExpression, state: _OffsetState) -> None:
        self.node, self.state = node, state

    def __enter__(self) -> None:
        state = self.state
        for parenthesis in self.node.lpar:
            parenthesis._codegen(state)
        self.start = len(state.tokens)

    def __exit__(self, *exc_info) -> None:
        state = self.state
        state.syntactic[id(self.node)] = (self.start, len(state.tokens))
        for parenthesis in self.node.rpar:
            parenthesis._codegen(state)


def _parenthesized(node: cst.BaseExpression, state: _OffsetState) -> _Parenthesized:
    return _Parenthesized(node, state)


def _offsets(syntactic: dict[int, tuple[int, int]], extents: dict[int, tuple[int, int]],
             node: cst.CSTNode) -> tuple[int, int]:
    """A node's position: its syntactic one where it has one, else the extent of its text."""
    return syntactic.get(id(node)) or extents[id(node)]


class _OffsetState(CodegenState):
    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.extents: dict[int, tuple[int, int]] = {}  # id(node) -> where the text it generates starts and ends
        self.syntactic: dict[int, tuple[int, int]] = {}  # id(node) -> its syntactic position, where it has one

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                  end_node: cst.CSTNode | None = None) -> _SyntacticPosition:
        return _SyntacticPosition(self, node, start_node, end_node)

    def pop_trailing_newline(self) -> None:
        pass  # libcst's positions count the newline a module without one generates and then drops


class Positions:
    """node -> its CodeRange, read with `[]` or `get` like the mapping PositionProvider resolves to."""

    def __init__(self, module: cst.Module) -> None:
        self._module = module  # nodes are known by their id(): while it lives, no other node can take one
        state = _OffsetState(module)
        generate, parenthesize = cst.CSTNode._codegen, _BaseParenthesizedNode._parenthesize
        cst.CSTNode._codegen, _BaseParenthesizedNode._parenthesize = _recorded, _parenthesized
        for trivia in _TRIVIA:
            trivia._codegen = trivia._codegen_impl
        try:
            module._codegen(state)
        finally:
            cst.CSTNode._codegen, _BaseParenthesizedNode._parenthesize = generate, parenthesize
            for trivia in _TRIVIA:
                del trivia._codegen
        offsets = [0, *accumulate(map(len, state.tokens))]  # number of tokens -> character offset
        self._extents, self._syntactic, self._offsets = state.extents, state.syntactic, offsets
        self._text = "".join(state.tokens)  # libcst counts line breaks token by token, and its
        # tokenizer never splits a "\r\n" between two tokens: counting them in the whole text is the same
        self._line_starts = [0, *(match.end() for match in NEWLINE_RE.finditer(self._text))]

    def _position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1]

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        start, end = _offsets(self._syntactic, self._extents, node)
        return CodeRange(CodePosition(*self._position(self._offsets[start])),
                         CodePosition(*self._position(self._offsets[end])))

    def get(self, node: cst.CSTNode, default=None):
        return self[node] if id(node) in self._extents else default

    def span(self, node: cst.CSTNode) -> Span:
        start, end = _offsets(self._syntactic, self._extents, node)
        line, column = self._position(self._offsets[start])
        return Span(line, column + 1, *self._position(self._offsets[end]))

    def holding(self, nodes: list[cst.CSTNode]) -> Callable[[cst.CSTNode], bool] | None:
        """A test of whether a node's text may hold one of `nodes` (True for a node not of this module), or None
        when one of `nodes` is not of this module."""
        extents = self._extents
        try:
            inner = sorted(extents[id(node)] for node in nodes)
        except KeyError:
            return None
        starts = [start for start, _ in inner]

        def may_hold(node: cst.CSTNode) -> bool:
            extent = extents.get(id(node))
            if extent is None:
                return True
            start, end = extent
            index = bisect_left(starts, start)
            while index < len(inner) and inner[index][0] <= end:  # token ranges nest: an inner one starts in its
                # outer one
                if inner[index][1] <= end:
                    return True
                index += 1
            return False

        return may_hold

    def code(self, module: cst.Module) -> str:
        """The code of `module`, an edit of the module these are the positions of: each node the two share is
        copied from the text it was parsed from instead of generated again (edits rebuild only the nodes on the
        way to an edited one). A node's text depends on the node, on the indentation of the blocks around it,
        which no edit changes, and on what its parent passes it (`default_comma`): a node passed anything is
        generated."""
        if not module.has_trailing_newline:  # the module's last token is dropped after generation: not a copy
            return module.code
        state = _CopyingState(module, self._text, self._extents, self._offsets)
        generate = cst.CSTNode._codegen
        cst.CSTNode._codegen = _copied_or_generated
        try:
            module._codegen(state)
        finally:
            cst.CSTNode._codegen = generate
        return "".join(state.tokens)


# Whitespace, comments, punctuation and operators, which no rule asks the position of, are generated without
# recording theirs: half of the nodes. But an import statement's position can end at its `)` or `*`.
_TRIVIA = tuple(c for c in vars(cst).values() if isinstance(c, type) and issubclass(c, TRIVIA_BASES)
                and not inspect.isabstract(c) and "_codegen" not in vars(c) and c not in (cst.RightParen, cst.ImportStar))


def _recorded(node: cst.CSTNode, state: _OffsetState, **kwargs) -> None:
    """CSTNode._codegen without its hooks (CodegenState leaves them empty), recording which tokens the node
    generates."""
    start = len(state.tokens)
    node._codegen_impl(state, **kwargs)
    state.extents[id(node)] = (start, len(state.tokens))


class _CopyingState(CodegenState):
    def __init__(self, module: cst.Module, text: str, extents: dict[int, tuple[int, int]], offsets: list[int]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.text, self.extents, self.offsets = text, extents, offsets


def _copied_or_generated(node: cst.CSTNode, state: _CopyingState, **kwargs) -> None:
    extent = None if kwargs else state.extents.get(id(node))
    if extent is None:
        node._codegen_impl(state, **kwargs)  # CSTNode._codegen without its hooks, which CodegenState leaves empty
    else:
        state.tokens.append(state.text[state.offsets[extent[0]] : state.offsets[extent[1]]])


def resolve_positions(wrapper: MetadataWrapper) -> Positions | None:
    """The positions of `wrapper.module`, stored where its resolver looks first (None: another libcst, whose own
    resolver has run)."""
    metadata = getattr(wrapper, "_metadata", None)
    if not isinstance(metadata, dict):
        wrapper.resolve(PositionProvider)
        return None
    if PositionProvider not in metadata:
        metadata[PositionProvider] = Positions(wrapper.module)
    positions = metadata[PositionProvider]
    return positions if isinstance(positions, Positions) else None


def node_span(positions, node: cst.CSTNode) -> Span:
    """The finding span of `node`, from the positions a visitor resolved."""
    if isinstance(positions, Positions):
        return positions.span(node)
    pos = positions[node]
    return Span(pos.start.line, pos.start.column + 1, pos.end.line, pos.end.column)
