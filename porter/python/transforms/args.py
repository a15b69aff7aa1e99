"""What a transform sees of a call (its arguments bound to the library's signature) and what it answers."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from porter.python.base import code_of

UNKNOWN = object()  # an argument whose value is not a literal


@dataclass(frozen=True)
class Rewrite:
    """Replace the call by `code`; `needs` are modules it refers to; `review` keeps a human in the loop."""

    code: str
    needs: tuple[str, ...]
    note: str = ""
    review: bool = False
    computes: str | None = None  # the original as one expression of its inputs, when it reads earlier assignments


@dataclass(frozen=True)
class Refuse:
    """Leave the call as it is and report why: status `review` (a human can decide) or `unsupported`."""

    status: str
    reason: str


class CallArgs:
    """A call's arguments bound by name to the library's parameter list (`params`, in positional order).

    `positional` is how many leading parameters may be passed positionally with the same meaning in every
    release the transform supports; anything beyond it (or `*args`/`**kwargs`, or an unknown keyword) makes
    the call undecidable, `error` says why.
    """

    def __init__(self, call: cst.Call, params: tuple[str, ...], positional: int,
                 resolve: Callable[[cst.BaseExpression], set[str]],
                 reading: Callable[[cst.BaseExpression], cst.BaseExpression] = lambda node: node) -> None:
        self.values: dict[str, cst.BaseExpression] = {}
        self.error = ""
        self.resolve = resolve
        # an argument read through the assignments before the call (porter.python.inline): for advice only, never
        # for new code, since the names in it may have other values where the call is
        self.reading = reading
        for index, arg in enumerate(call.args):
            if arg.star:
                self.error = f"`{code_of(arg)}` hides which arguments are passed"
            elif arg.keyword is None:
                if index >= positional:
                    self.error = f"positional argument {index + 1} (`{code_of(arg.value)}`) is ambiguous across releases"
                else:
                    self.values[params[index]] = arg.value
            elif arg.keyword.value not in params:
                self.error = f"unknown keyword `{arg.keyword.value}`"
            else:
                self.values[arg.keyword.value] = arg.value

    def given(self, name: str) -> bool:
        return name in self.values

    def code(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return code_of(value) if value is not None else default

    def literal(self, name: str, default=None):
        """The argument's value when it is a Python literal, its default when absent, UNKNOWN otherwise."""
        if name not in self.values:
            return default
        try:
            return ast.literal_eval(code_of(self.values[name]))
        except (ValueError, SyntaxError):
            return UNKNOWN

    def is_default(self, name: str, default) -> bool:
        """Absent, or a literal equal to the library default (`None`, `False`, `(-1, -1)`, ...)."""
        value = self.literal(name, default)
        if isinstance(value, list):
            value = tuple(value)
        return value is not UNKNOWN and value == default and (value is None) == (default is None)

    def is_plain(self, name: str) -> bool:
        """A name or attribute chain: evaluating it twice has no cost and no side effect."""
        node = self.values.get(name)
        while isinstance(node, cst.Attribute):
            node = node.value
        return isinstance(node, cst.Name)

    def calls(self, name: str) -> set[str]:
        """Qualified names of the callee when the argument is a call such as `LowerTriangularMask()`."""
        node = self.values.get(name)
        return self.resolve(node.func) if isinstance(node, cst.Call) and not node.args else set()


def signature(params: tuple[str, ...], positional: int):
    """Mark a transform with the library parameters it binds and how many may come positionally."""

    def mark(transform):
        transform.params, transform.positional = params, positional
        return transform

    return mark


def advice(*sites: str):
    """Mark a transform that only ever refuses (advice: the code stays), or a fusion detector that only ever does
    and answers only at these sites (`"@"`, porter.python.transforms.fusion.Site). A module that uses such an API
    and nothing else a libcst pass would edit gets its findings from the stdlib tree, the advice from a libcst pass
    over the definitions that use it (porter.python.fragments)."""

    def mark(transform):
        transform.advice_sites = sites
        return transform

    return mark


def atom(code: str) -> str:
    """`code` safe to use as an operand: parenthesised unless it is a name, number, call or subscript."""
    try:
        node = cst.parse_expression(code)
    except cst.ParserSyntaxError:
        return f"({code})"
    simple = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript, cst.SimpleString)
    return code if isinstance(node, simple) or node.lpar else f"({code})"


def keywords(pairs: list[tuple[str, str | None]]) -> str:
    return ", ".join(f"{key}={value}" for key, value in pairs if value is not None)
