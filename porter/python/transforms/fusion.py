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

from porter.python.base import bare_code, code_of, dotted_text
from porter.python.inline import names_in
from porter.python.transforms.args import CallArgs, Refuse, Rewrite, advice, signature


@dataclass(frozen=True)
class Site:
    """Where porter.python.fusion found an entry's call (the anchor) and what surrounds it."""

    operator: str  # "*": anchor among the factors of a product; "@": left operand of a matmul; ".": a method call
    operands: tuple[cst.BaseExpression, ...]  # the factors; (left, right); the method's receiver
    anchor: cst.Call
    qualified: Callable[[cst.CSTNode], frozenset[str]]  # qualified names of a name rooted in an import
    loop: cst.For | None = None  # a method call's innermost enclosing `for` loop
    function: cst.FunctionDef | None = None  # "+": the module's function the anchor is in, called in an operand
    # "*": the statements of the product's block up to its own line, that line last (asked for: rarely needed)
    block: Callable[[], tuple[cst.BaseStatement, ...]] = tuple


MATMUL = "torch.matmul"  # read as `@`



@advice()
@signature(("input",), 1)
def rms_norm(args: CallArgs) -> Refuse | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)`: an RMSNorm written out, the mean possibly assigned
    before (`variance = x.pow(2).mean(-1, keepdim=True)`, then `torch.rsqrt(variance + eps)`)."""
    value = args.values.get("input")
    if args.error or value is None or _mean_of_squares_plus_eps(args.reading(value), any_keepdim=True) is None:
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


def _mean_of_squares_plus_eps(node: cst.BaseExpression, any_keepdim: bool = False):
    """(x, eps) of `x.pow(2).mean(-1, keepdim=True) + eps` (or `eps + ...`, `x.square()`, `x ** 2`); with
    `any_keepdim`, of any mean whose first argument is the last dimension (`.mean(-1)`, `.mean(dim=-1, ...)`)."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)):
        return None
    for mean, eps in ((node.left, node.right), (node.right, node.left)):
        x = _squared(_mean_of_last_dim(mean, any_keepdim))
        if x is not None:
            return x, eps
    return None


def _mean_of_last_dim(node, any_keepdim: bool = False) -> cst.BaseExpression | None:
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "mean"):
        return None
    given = {arg.keyword.value if arg.keyword else ("dim" if i == 0 else ""): _squeezed(arg.value)
             for i, arg in enumerate(node.args)}
    exact = given == {"dim": "-1", "keepdim": "True"}
    return node.func.value if exact or (any_keepdim and next(iter(given.items()), None) == ("dim", "-1")) else None


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


@advice("*")
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


def swiglu_halves(site: Site) -> Rewrite | None:
    """`F.silu(a) * b` after `a, b = x.chunk(2, dim=d)` (or `torch.chunk(x, 2, d)`) in the same block, with none of
    a, b and x named in between: `torch_npu.npu_swiglu(x, dim=d)`, which gates the first half with the second."""
    factors, silu = site.operands, site.anchor
    if site.operator != "*" or len(factors) != 2 or not m.matches(silu, m.Call(args=[m.Arg(m.Name(), keyword=None)])):
        return None
    up = next(f for f in factors if f is not silu)
    block = site.block()
    if not isinstance(up, cst.Name) or not block or silu.args[0].star:
        return None
    gate, up = silu.args[0].value.value, up.value
    for index in range(len(block) - 2, -1, -1):
        if not {gate, up} & names_in(block[index]):
            continue
        halves = _halves(block[index], site.qualified)
        if halves is None or halves[:2] != (gate, up):
            return None
        chunk, x, dim = halves[2:]
        if any(x in names_in(s) for s in block[index + 1:-1]) or m.findall(block[-1], m.NamedExpr(m.Name(x))):
            return None
        computes = " * ".join(f"{code_of(silu.func)}({chunk}[0])" if f is silu else f"{chunk}[1]" for f in factors)
        return Rewrite(f"torch_npu.npu_swiglu({x}, dim={dim})", ("torch_npu",), review=True, computes=computes,
                       note=f"torch_npu.npu_swiglu computes silu of the first half of `{x}` times the second in one "
                            f"kernel; `{code_of(block[index]).strip()}` stays for any other use of its halves: "
                            "the generated parity case compares the two")
    return None


def _halves(statement: cst.BaseStatement, qualified) -> tuple[str, str, str, str, str] | None:
    """(a, b, the chunk call, x, dim) of `a, b = x.chunk(2, dim=d)` or `torch.chunk(x, 2, d)`, x a name, d a number."""
    two_names = [m.Element(m.Name()), m.Element(m.Name())]
    if not m.matches(statement, m.SimpleStatementLine(
            body=[m.Assign(targets=[m.AssignTarget(m.Tuple(two_names) | m.List(two_names))])])):
        return None
    assign = statement.body[0]
    call, (a, b) = assign.value, (e.value.value for e in assign.targets[0].target.elements)
    if not isinstance(call, cst.Call) or any(arg.star for arg in call.args):
        return None
    args = [(arg.keyword.value if arg.keyword else None, arg.value) for arg in call.args]
    if "torch.chunk" in qualified(call.func) and args and args[0][0] in (None, "input"):
        x, rest = args[0][1], args[1:]
    elif m.matches(call.func, m.Attribute(attr=m.Name("chunk"))):
        x, rest = call.func.value, args
    else:
        return None
    named = {keyword or ("chunks", "dim")[i]: _squeezed(value) for i, (keyword, value) in enumerate(rest[:2])}
    if len(rest) != 2 or named.get("chunks") != "2" or not re.fullmatch(r"-?\d+", named.get("dim", "")) \
            or not isinstance(x, cst.Name) or x.value in (a, b):
        return None
    return a, b, code_of(call), x.value, named["dim"]


@advice("@")
def attention_matmul(site: Site) -> Refuse | None:
    """`softmax(q @ k.transpose(-2, -1) * scale + mask, dim=-1) @ v` (or torch.matmul, the `.softmax(-1)` method, a
    dropout around the softmax), in one expression or read through the assignments before it: attention written
    out; the scale (`* s`, `/ s`) and the mask (`.masked_fill(m, x)`, `+ m`) are optional."""
    if site.operator != "@" or site.anchor is not _undropped(site.operands[0], site.qualified):
        return None
    scores = _softmax_of_last_dim(site.anchor, site.qualified)
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


def _undropped(node: cst.BaseExpression, qualified) -> cst.BaseExpression:
    """The input of a dropout around `node` (`F.dropout(p, ...)`, or a call of an attribute named for it with one
    argument, `self.attn_drop(p)`), else `node`."""
    if not isinstance(node, cst.Call) or not node.args or node.args[0].keyword or node.args[0].star:
        return node
    named = isinstance(node.func, cst.Attribute) and "drop" in node.func.attr.value and len(node.args) == 1
    return node.args[0].value if named or qualified(node.func) & _DROPOUTS else node


_DROPOUTS = frozenset({"torch.nn.functional.dropout", "torch.dropout"})


def _softmax_of_last_dim(call: cst.Call, qualified) -> cst.BaseExpression | None:
    """The input of `softmax(x, -1)` / `softmax(x, dim=-1)` / `x.softmax(-1)` (a `dtype=` allowed), else None."""
    method = not qualified(call.func) and isinstance(call.func, cst.Attribute)
    positional = ("dim",) if method else ("input", "dim")
    names = [a.keyword.value if a.keyword else positional[i] if i < len(positional) else "?"
             for i, a in enumerate(call.args)]
    given = dict(zip(names, (a.value for a in call.args)), **({"input": call.func.value} if method else {}))
    if any(a.star for a in call.args) or not {"input", "dim"} <= set(given) <= {"input", "dim", "dtype"}:
        return None
    return given["input"] if _squeezed(given["dim"]) == "-1" else None


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
            and ",".join(_squeezed(a.value) for a in key_t.args) in _LAST_TWO:
        return q, key_t.func.value
    return None


@advice(".")
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


_MODE_ARGUMENT = {"half": "", "interleave": ', rotary_mode="interleave"'}
_ROTATION_FUNCTIONS = frozenset({"torch.chunk", "torch.cat", "torch.stack"})


def rotary(site: Site) -> Refuse | None:
    """`x * cos + rotate(x) * sin` (sides and factors in any order) where `rotate` is the module's own function of x
    alone and rotates the last dimension the way torch_npu.npu_rotary_mul does: "half" `cat((-x2, x1), -1)` of its
    halves, "interleave" `stack((-odd, even), -1)` flattened back."""
    if site.operator != "+" or site.function is None:
        return None
    mode, found = _rotation(site.function, site.qualified), _rotated_sum(site.operands, site.function.name.value)
    if mode is None or found is None:
        return None
    x, cos, sin = (bare_code(node) for node in found)
    call = f"torch_npu.npu_rotary_mul({x}, {cos}, {sin}{_MODE_ARGUMENT[mode]})"
    broadcasts = ("11SD, B1SD or BNSD for a BNSD x, 1S1D, BS1D or BSND for BSND, S11D, SB1D or SBND for SBND"
                  if mode == "half" else "11SD for a BNSD x, 1S1D for BSND, S11D for SBND")
    rotate = site.function.name.value
    return Refuse("review", f"a rotary position embedding written out: `{call}` computes `{x} * {cos} + "
                            f"{rotate}({x}) * {sin}` in one kernel, rotary_mode \"{mode}\" being the rotation "
                            f"`{rotate}` computes. It takes a 4-D x in BNSD, BSND or SBND "
                            "layout whose last dimension is even and below 896, and 4-D cos and sin with values in "
                            f"[-1, 1] shaped {broadcasts}")


def _rotated_sum(operands: tuple[cst.BaseExpression, ...], rotate: str) -> tuple | None:
    """(x, cos, sin) of `x * cos + rotate(x) * sin`, each side a product of exactly two factors."""
    products = [_two_factors(side) for side in operands]
    if None in products:
        return None
    for plain, rotated in (products, products[::-1]):
        for call, sin in (rotated, rotated[::-1]):
            x = _only_argument(call, rotate)
            for x_factor, cos in (plain, plain[::-1]):
                if x is not None and bare_code(x_factor) == bare_code(x):
                    return x, cos, sin
    return None


def _two_factors(node: cst.BaseExpression) -> tuple | None:
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)):
        return None
    factors = (node.left, node.right)
    return None if any(isinstance(f, cst.BinaryOperation) and not f.lpar for f in factors) else factors


def _only_argument(node: cst.BaseExpression, function: str) -> cst.BaseExpression | None:
    if m.matches(node, m.Call(func=m.Name(function), args=[m.Arg(keyword=None, star="")])):
        return node.args[0].value
    return None


def _rotation(function: cst.FunctionDef, qualified) -> str | None:
    """The mode, "half" or "interleave", when the function of one parameter x is a sequence of assignments and a
    return that computes that rotation of x's last dimension, read as values: the halves or the even and odd
    elements of x (slices, `chunk(2, -1)`), negated, concatenated or stacked and flattened back."""
    params = function.params
    if params.posonly_params or params.kwonly_params or params.star_arg != cst.MaybeSentinel.DEFAULT \
            or params.star_kwarg or len(params.params) != 1 or params.params[0].default:
        return None
    read = _Rotation(params.params[0].name.value, qualified)
    statements = function.body.body  # a one-line body: its small statements already
    if isinstance(function.body, cst.IndentedBlock):
        statements = [small for line in statements
                      for small in (line.body if isinstance(line, cst.SimpleStatementLine) else [line])]
    for statement in statements:
        if isinstance(statement, cst.Return):
            value = read.value(statement.value) if statement.value is not None else None
            return value[1] if value and value[0] == "rotated" and statement is statements[-1] else None
        if not read.assign(statement):
            return None
    return None


class _Rotation:
    """Abstract values of a rotation's code: ("x",), ("half", 0 | 1), ("every", 0 | 1) (x[..., ::2], x[..., 1::2]),
    ("neg", v), ("pair", a, b), ("stacked",), ("rotated", mode); None for anything else."""

    def __init__(self, x: str, qualified) -> None:
        self.x, self.qualified, self.values = x, qualified, {x: ("x",)}

    def assign(self, statement: cst.BaseSmallStatement) -> bool:
        """Record an assignment; whether the statement was one this reading follows (a docstring passes)."""
        if m.matches(statement, m.Expr(value=m.SimpleString())):
            return True
        if not (isinstance(statement, cst.Assign) and len(statement.targets) == 1):
            return False
        target, value = statement.targets[0].target, self.value(statement.value)
        if isinstance(target, cst.Name):
            self.values[target.value] = value
            return True
        names = [e.value.value for e in target.elements if isinstance(e.value, cst.Name)] \
            if isinstance(target, (cst.Tuple, cst.List)) else []
        if len(names) != 2 or len(target.elements) != 2 or not value or value[0] != "pair":
            return False
        self.values.update(zip(names, value[1:]))
        return True

    def value(self, node: cst.BaseExpression):
        if isinstance(node, cst.Name):
            return self.values.get(node.value)
        if m.matches(node, m.UnaryOperation(operator=m.Minus())):
            inner = self.value(node.expression)
            return ("neg", inner) if inner else None
        if isinstance(node, cst.Subscript):
            return self._slice(node)
        if not isinstance(node, cst.Call) or any(a.star for a in node.args):
            return None
        args = tuple(_squeezed(a.value) for a in node.args)
        keywords = tuple(a.keyword.value if a.keyword else None for a in node.args)
        names = self.qualified(node.func) & _ROTATION_FUNCTIONS
        if names == {"torch.chunk"} and node.args:
            return self._method("chunk", self.value(node.args[0].value), args[1:], keywords[1:])
        if names and names != {"torch.chunk"}:
            return self._joined(names, node, args, keywords)
        if isinstance(node.func, cst.Attribute):
            return self._method(node.func.attr.value, self.value(node.func.value), args, keywords)
        return None

    def _joined(self, names: frozenset[str], node: cst.Call, args: tuple[str, ...], keywords: tuple) -> tuple | None:
        """`torch.cat((-x2, x1), -1)` of the halves: rotated; `torch.stack((-odd, even), -1)`: to be flattened."""
        sequence = node.args[0].value if node.args else None
        if keywords[:1] != (None,) or not isinstance(sequence, (cst.Tuple, cst.List)) \
                or not _last_dim(args[1:], keywords[1:]):
            return None
        kind, result = ("half", ("rotated", "half")) if names == {"torch.cat"} else ("every", ("stacked",))
        parts = tuple(None if isinstance(e, cst.StarredElement) else self.value(e.value) for e in sequence.elements)
        return result if parts == (("neg", (kind, 1)), (kind, 0)) else None

    def _method(self, name: str, receiver, args: tuple[str, ...], keywords: tuple) -> tuple | None:
        if receiver == ("x",) and name == "chunk" and args[:1] == ("2",) and keywords[0] in (None, "chunks") \
                and _last_dim(args[1:], keywords[1:]):
            return ("pair", ("half", 0), ("half", 1))
        flattened = {("flatten", ("-2",), (None,)), ("flatten", ("-2",), ("start_dim",)),
                     ("reshape", (f"{self.x}.shape",), (None,)), ("view", (f"{self.x}.shape",), (None,))}
        if receiver == ("stacked",) and (name, args, keywords) in flattened:
            return ("rotated", "interleave")
        return None

    def _slice(self, node: cst.Subscript) -> tuple | None:
        """x[..., :x.shape[-1] // 2] and x[..., x.shape[-1] // 2:] (halves), x[..., ::2] and x[..., 1::2]."""
        if self.value(node.value) != ("x",) or len(node.slice) != 2 \
                or not m.matches(node.slice[0].slice, m.Index(value=m.Ellipsis())) \
                or not isinstance(node.slice[1].slice, cst.Slice):
            return None
        part = node.slice[1].slice
        lower, upper, step = (_squeezed(n) if n is not None else "" for n in (part.lower, part.upper, part.step))
        middle = {f"{self.x}.shape[-1]//2", f"{self.x}.size(-1)//2"}
        key = ("mid" if lower in middle else lower, "mid" if upper in middle else upper, step)
        return {("", "mid", ""): ("half", 0), ("mid", "", ""): ("half", 1), ("", "", "2"): ("every", 0),
                ("0", "", "2"): ("every", 0), ("1", "", "2"): ("every", 1)}.get(key)


def _squeezed(node: cst.BaseExpression) -> str:
    return code_of(node).replace(" ", "")


def _last_dim(args: tuple[str, ...], keywords: tuple) -> bool:
    """The remaining arguments are exactly the last dimension: `-1` or `dim=-1`."""
    return args == ("-1",) and keywords[0] in (None, "dim")


# rms_norm is a call's advice (kind `call_transform`), the others read what the call sits in (kind `fusion`)
TRANSFORMS = (rms_norm, rms_norm_product, swiglu_product, swiglu_halves, attention_matmul, adam_step, rotary)
