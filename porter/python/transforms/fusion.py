"""Hand-written math that Ascend runs faster as one fused operator: advice on one call (kind `call_transform`),
advice on what a call sits in (kind `fusion`: a product, a matmul, a loop) and, with `porter port --fuse`, the
rewrite of a whole product (porter.python.fusion).

Each detector answers None when the code is not the pattern it knows. A detector's API is
also a prefilter trigger word (porter.engine), so only rare names qualify: `torch.rsqrt` yes, `torch.cat` no.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from porter.python.base import code_of, dotted_text
from porter.python.transforms.args import CallArgs, Refuse, Rewrite, signature


@dataclass(frozen=True)
class Site:
    """Where porter.python.fusion found an entry's call (the anchor) and what surrounds it."""

    operator: str  # "*": anchor among the factors of a product; "@": left operand of a matmul; ".": a method call
    operands: tuple[cst.BaseExpression, ...]  # the factors; (left, right); the method's receiver
    anchor: cst.Call
    qualified: Callable[[cst.CSTNode], frozenset[str]]  # qualified names of a name rooted in an import
    loop: cst.For | None = None  # a method call's innermost enclosing `for` loop


MATMUL = "torch.matmul"  # read as `@`

_MEAN_OF_SQUARES = re.compile(r"(\.pow\(2\)|\.square\(\)|\*\* ?2\)?)\.mean\(\s*(-1|dim=-1)")


@signature(("input",), 1)
def rms_norm(args: CallArgs) -> Refuse | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)`: an RMSNorm written out."""
    if args.error or not _MEAN_OF_SQUARES.search(args.code("input") or ""):
        return None
    return Refuse("review", "an RMSNorm written out: torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0] computes "
                            "x * rsqrt(mean(x^2) + eps) * weight in one kernel")



def rms_norm_product(site: Site) -> Rewrite | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight`, its factors in any order, as
    `torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0]`: only when x, weight and eps are plain names or attributes
    (evaluated once either way) and the normalised x is the multiplied one (a cast such as `x.float()` inside the
    mean is another computation)."""
    factors, rsqrt = site.operands, site.anchor
    if site.operator != "*" or len(rsqrt.args) != 1 or rsqrt.args[0].keyword or rsqrt.args[0].star:
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


def swiglu_product(site: Site) -> Refuse | None:
    """`F.silu(a) * b`: a SwiGLU. torch_npu.npu_swiglu(x, dim=-1) gates the first half of x with the second, so it
    applies when a and b are the halves of one tensor, or two projections whose weights can be concatenated."""
    factors, silu = site.operands, site.anchor
    if site.operator != "*" or len(factors) != 2 or len(silu.args) != 1 or silu.args[0].keyword or silu.args[0].star:
        return None
    gate, up = code_of(silu.args[0].value), code_of(next(f for f in factors if f is not silu))
    return Refuse("review", f"a SwiGLU written out: torch_npu.npu_swiglu(x, dim=-1) computes silu(a) * b in one kernel "
                            f"where a and b are the first and second halves of x along dim; here a is `{gate}` and b "
                            f"`{up}`: when they are two projections of one input, one linear with both weights "
                            "concatenated gives that x")


def attention_matmul(site: Site) -> Refuse | None:
    """`softmax(q @ k.transpose(-2, -1) * scale + mask, dim=-1) @ v` (or torch.matmul): attention written out in one
    expression; the scale (`* s`, `/ s`) and the mask (`.masked_fill(m, x)`, `+ m`) are optional."""
    if site.operator != "@" or site.anchor is not site.operands[0]:
        return None
    scores = _softmax_of_last_dim(site.anchor)
    found = _query_key(scores, site.qualified) if scores is not None else None
    if found is None:
        return None
    q, k, v = (code_of(node) for node in (*found, site.operands[1]))
    return Refuse("review", "attention written out: torch_npu.npu_fusion_attention(q, k, v, head_num, input_layout, "
                            "scale=..., atten_mask=..., keep_prob=...)[0] computes softmax(q @ k^T * scale + mask) "
                            f"@ v in one kernel; here q is `{q}`, k `{k}` and v `{v}`. Check the layout "
                            "(input_layout=\"BNSD\" for [batch, heads, seq, dim], head_num=q.shape[1]) and pass the "
                            "scale (the NPU default is 1.0); atten_mask is True where a position is masked (an "
                            "additive mask goes in as pse), and a dropout between the softmax and `@ v` maps to "
                            "keep_prob=1 - p")


def _softmax_of_last_dim(call: cst.Call) -> cst.BaseExpression | None:
    """The input of `softmax(x, -1)` / `softmax(x, dim=-1)` (a `dtype=` allowed), else None."""
    names = [a.keyword.value if a.keyword else ("input", "dim", "?")[min(i, 2)] for i, a in enumerate(call.args)]
    given = dict(zip(names, (a.value for a in call.args)))
    if any(a.star for a in call.args) or not {"input", "dim"} <= set(given) <= {"input", "dim", "dtype"}:
        return None
    return given["input"] if code_of(given["dim"]).replace(" ", "") == "-1" else None


def _query_key(node: cst.BaseExpression, qualified) -> tuple | None:
    """(q, k) of the scores `q @ k^T`, in any nesting of `* s`, `s *`, `/ s`, `+ m`, `m +` and `.masked_fill(m, x)`."""
    if isinstance(node, cst.Call) and m.matches(node.func, m.Attribute(attr=m.Name("masked_fill"))):
        return _query_key(node.func.value, qualified)
    if isinstance(node, cst.Call) and len(node.args) == 2 and not any(a.keyword or a.star for a in node.args) \
            and MATMUL in qualified(node.func):
        return _transposed_key(node.args[0].value, node.args[1].value)
    if not isinstance(node, cst.BinaryOperation):
        return None
    if isinstance(node.operator, cst.MatrixMultiply):
        return _transposed_key(node.left, node.right)
    sides = {cst.Multiply: (node.left, node.right), cst.Add: (node.left, node.right), cst.Divide: (node.left,)}
    return next(filter(None, (_query_key(side, qualified) for side in sides.get(type(node.operator), ()))), None)


_LAST_TWO = {"-2,-1", "-1,-2", "2,3", "3,2"}  # transpose arguments that swap the last two dimensions (2, 3 of 4-D)


def _transposed_key(q: cst.BaseExpression, key_t: cst.BaseExpression) -> tuple | None:
    """(q, k) when key_t is `k.mT` or `k.transpose(...)` of the last two dimensions."""
    if m.matches(key_t, m.Attribute(attr=m.Name("mT"))):
        return q, key_t.value
    if isinstance(key_t, cst.Call) and m.matches(key_t.func, m.Attribute(attr=m.Name("transpose"))) \
            and not any(a.keyword or a.star for a in key_t.args) \
            and ",".join(code_of(a.value).replace(" ", "") for a in key_t.args) in _LAST_TWO:
        return q, key_t.func.value
    return None


def adam_step(site: Site) -> Refuse | None:
    """`p.addcdiv_(exp_avg, denom, value=-step_size)` in a `for` loop that also updates exp_avg in place
    (`exp_avg.mul_(beta1)...`, `exp_avg.lerp_(grad, 1 - beta1)`) and takes denom from a square root: an Adam-style
    step written out. RMSprop and Adagrad divide the gradient itself, Adamax by an infinity norm: not reported."""
    positional = [a.value for a in site.anchor.args if not a.keyword]
    # (value, tensor1, tensor2): the positional form torch deprecated in 1.5, still in older optimizers
    if site.loop is None or any(a.star for a in site.anchor.args) or len(positional) not in (2, 3):
        return None
    moment, denom = (code_of(node) for node in positional[-2:])
    if not (_updated_in_place(site.loop, moment) and _square_root(site.loop, denom)):
        return None
    return Refuse("review", f"an Adam-style step written out: `{code_of(site.operands[0])}` moves by the first moment "
                            f"`{moment}` over `{denom}`, a square root of the second. If it is Adam or AdamW, "
                            "torch.optim.AdamW(params, ..., fused=True) (torch.optim.Adam for L2 weight decay) updates "
                            "all parameters in one NPU kernel (torch_npu registers _fused_adamw_), as "
                            "torch_npu.optim.NpuFusedAdamW does; check that its bias correction, eps and weight decay "
                            "are this loop's. A variant (RAdam, NAdam, AdaBelief, Adan: the same moments, another "
                            "update) is not what AdamW computes")


def _updated_in_place(loop: cst.For, moment: str) -> bool:
    first_moment = m.Call(func=m.Attribute(attr=m.Name("mul_") | m.Name("lerp_")))
    return any(code_of(call.func.value) == moment for call in m.findall(loop, first_moment))


def _square_root(loop: cst.For, denom: str) -> bool:
    """Whether `denom` is, or is assigned in the loop from, an expression with a square root."""
    assigned = [a.value for a in m.findall(loop, m.Assign()) if [code_of(t.target) for t in a.targets] == [denom]]
    return any("sqrt" in code for code in (denom, *map(code_of, assigned)))


TRANSFORMS = (rms_norm, rms_norm_product, swiglu_product, attention_matmul, adam_step)  # call advice; kind `fusion`
