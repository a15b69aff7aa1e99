"""Lay a rebuilt call out like the call it replaces: one argument per line when the original had that, with the
original's comments kept beside the argument that carries the same expression (the rest after the opening paren)."""

from __future__ import annotations

import libcst as cst

from porter.python.base import code_of, dotted_text


def _target_call(node: cst.BaseExpression) -> cst.Call | None:
    """The API call inside `api(...)[0]` or `api(...).transpose(1, 2).contiguous()`."""
    while True:
        if isinstance(node, cst.Call) and dotted_text(node.func) is not None:
            return node
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            node = node.func.value
        else:
            return None


def _comment_after(arg: cst.Arg) -> str | None:
    whitespace = arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg
    if isinstance(whitespace, cst.ParenthesizedWhitespace) and whitespace.first_line.comment is not None:
        return whitespace.first_line.comment.value
    return None


def _closing(call: cst.Call) -> cst.ParenthesizedWhitespace | None:
    last = call.args[-1]
    for whitespace in (getattr(last.comma, "whitespace_after", None), last.whitespace_after_arg):
        if isinstance(whitespace, cst.ParenthesizedWhitespace):
            return whitespace
    return None


def _line(like: cst.ParenthesizedWhitespace, comment: str | None) -> cst.ParenthesizedWhitespace:
    first = cst.TrailingWhitespace(cst.SimpleWhitespace("  " if comment else ""),
                                   cst.Comment(comment) if comment else None)
    return cst.ParenthesizedWhitespace(first_line=first, empty_lines=[], indent=like.indent, last_line=like.last_line)


def follow_layout(original: cst.Call, new: cst.BaseExpression) -> cst.BaseExpression:
    opening, closing = original.whitespace_before_args, _closing(original) if original.args else None
    target = _target_call(new)
    if target is None or not target.args or not isinstance(opening, cst.ParenthesizedWhitespace) or closing is None:
        return new
    new_codes = [code_of(arg.value) for arg in target.args]
    placed: dict[int, list[str]] = {}
    unplaced = [opening.first_line.comment.value] if opening.first_line.comment else []
    for arg in original.args:
        comment = _comment_after(arg)
        if comment is None:
            continue
        value = code_of(arg.value)
        index = next((i for i, code in enumerate(new_codes) if code == value and i not in placed), None)
        (placed.setdefault(index, []) if index is not None else unplaced).append(comment)
    args = []
    for index, arg in enumerate(target.args):
        comment = " ".join(placed.get(index, [])) or None
        after = _line(opening if index < len(target.args) - 1 else closing, comment)
        args.append(arg.with_changes(comma=cst.Comma(whitespace_after=after)))
    laid_out = target.with_changes(whitespace_before_args=_line(opening, " ".join(unplaced) or None), args=args)
    return new.deep_replace(target, laid_out) if target is not new else laid_out
