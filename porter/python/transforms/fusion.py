"""Hand-written math that Ascend runs faster as one fused operator: advice on one call (kind `call_transform`),
and, with `porter port --fuse`, the rewrite of a whole product (kind `fusion`, porter.python.fusion).

Each detector answers None when the code is not the pattern it knows. A detector's API is
also a prefilter trigger word (porter.engine), so only rare names qualify: `torch.rsqrt` yes, `torch.cat` no.
"""

from __future__ import annotations

import re

import libcst as cst

from porter.python.base import code_of, dotted_text
from porter.python.transforms.args import CallArgs, Refuse, Rewrite, signature

_MEAN_OF_SQUARES = re.compile(r"(\.pow\(2\)|\.square\(\)|\*\* ?2\)?)\.mean\(\s*(-1|dim=-1)")


@signature(("input",), 1)
def rms_norm(args: CallArgs) -> Refuse | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)`: an RMSNorm written out."""
    if args.error or not _MEAN_OF_SQUARES.search(args.code("input") or ""):
        return None
    return Refuse("review", "an RMSNorm written out: torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0] computes "
                            "x * rsqrt(mean(x^2) + eps) * weight in one kernel")



def rms_norm_product(factors: list[cst.BaseExpression], rsqrt: cst.Call) -> Rewrite | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight`, its factors in any order, as
    `torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0]`: only when x, weight and eps are plain names or attributes
    (evaluated once either way) and the normalised x is the multiplied one (a cast such as `x.float()` inside the
    mean is another computation)."""
    if len(rsqrt.args) != 1 or rsqrt.args[0].keyword or rsqrt.args[0].star:
        return None
    found = _mean_of_squares_plus_eps(rsqrt.args[0].value)
    if found is None:
        return None
    x, eps = found
    others = [f for f in factors if f is not rsqrt]
    rest = [f for f in others if code_of(f) != code_of(x)]
    if len(others) != 2 or len(rest) != 1 or not (_plain(x) and _plain(rest[0]) and _plain_or_number(eps)):
        return None
    return Rewrite(f"torch_npu.npu_rms_norm({code_of(x)}, {code_of(rest[0])}, epsilon={code_of(eps)})[0]",
                   ("torch_npu",), review=True,
                   note="torch_npu.npu_rms_norm needs the weight's shape to be the normalised dimension's and rounds "
                        "once instead of per operation: the generated parity case compares the two")


def _mean_of_squares_plus_eps(node: cst.BaseExpression):
    """(x, eps) of `x.pow(2).mean(-1, keepdim=True) + eps` (or `eps + ...`, `x.square()`, `x ** 2`)."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)):
        return None
    for mean, eps in ((node.left, node.right), (node.right, node.left)):
        x = _squared(_mean_of_last_dim(mean))
        if x is not None:
            return x, eps
    return None


def _mean_of_last_dim(node) -> cst.BaseExpression | None:
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "mean"):
        return None
    given = {arg.keyword.value if arg.keyword else ("dim" if i == 0 else ""): code_of(arg.value).replace(" ", "")
             for i, arg in enumerate(node.args)}
    if given == {"dim": "-1", "keepdim": "True"}:
        return node.func.value
    return None


def _squared(node) -> cst.BaseExpression | None:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not any(a.keyword for a in node.args):
        arguments = [code_of(a.value) for a in node.args]
        if (node.func.attr.value, arguments) in (("pow", ["2"]), ("square", [])):
            return node.func.value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Power) and code_of(node.right) == "2":
        return node.left.with_changes(lpar=(), rpar=())
    return None


def _plain(node) -> bool:
    return dotted_text(node) is not None


def _plain_or_number(node) -> bool:
    return _plain(node) or isinstance(node, (cst.Float, cst.Integer))


def swiglu_product(factors: list[cst.BaseExpression], silu: cst.Call) -> Refuse | None:
    """`F.silu(a) * b`: a SwiGLU. torch_npu.npu_swiglu(x, dim=-1) gates the first half of x with the second, so it
    applies when a and b are the halves of one tensor, or two projections whose weights can be concatenated."""
    if len(factors) != 2 or len(silu.args) != 1 or silu.args[0].keyword or silu.args[0].star:
        return None
    gate, up = code_of(silu.args[0].value), code_of(next(f for f in factors if f is not silu))
    return Refuse("review", f"a SwiGLU written out: torch_npu.npu_swiglu(x, dim=-1) computes silu(a) * b in one kernel "
                            f"where a and b are the first and second halves of x along dim; here a is `{gate}` and b "
                            f"`{up}`: when they are two projections of one input, one linear with both weights "
                            "concatenated gives that x")


TRANSFORMS = (rms_norm, rms_norm_product, swiglu_product)  # call advice; products (kind `fusion`)
