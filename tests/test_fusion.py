"""PY416 (--fuse): the fused call computes what the written-out product did, checked on CPU with a model of
torch_npu.npu_rms_norm written from its documentation (porter.parity.models); and nothing is fused unless the user asks.
PY418 and PY419 (attention and an Adam step written out) are advice only, with or without --fuse."""

import types

import pytest
import torch

from porter.parity.models import npu_fusion_attention, npu_rms_norm, npu_rotary_mul, npu_swiglu
from porter.python import port_python
from porter.python.prefilter import might_need_porting

FORMS = [
    "x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight",
    "weight * x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + eps)",
    "weight * (x * torch.rsqrt((x ** 2).mean(-1, keepdim=True) + 1e-5))",
    "torch.rsqrt(eps + x.pow(2).mean(-1, keepdim=True)) * weight * x",
]


def _ported(expression: str, ruleset) -> str:
    source = f"import torch\n\n\ndef norm(x, weight, eps):\n    return {expression}\n"
    new, findings = port_python(source, ruleset)
    assert new is not None and any(f.rule_id == "PY416" for f in findings), (source, findings)
    return new


def _run(source: str, x, weight, eps):
    scope = {"torch_npu": types.SimpleNamespace(npu_rms_norm=npu_rms_norm)}
    exec(compile(source.replace("import torch_npu\n", ""), "<ported>", "exec"), scope)
    return scope["norm"](x, weight, eps)


@pytest.mark.parametrize("expression", FORMS)
def test_the_fused_call_computes_the_written_out_product(expression, ruleset):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 64, generator=generator, dtype=torch.float64)
    weight = torch.rand(64, generator=generator, dtype=torch.float64) + 0.5
    eps = 1e-5
    written_out = eval(expression, {"torch": torch, "x": x, "weight": weight, "eps": eps})
    fused = _run(_ported(expression, ruleset.enabling("fuse")), x, weight, eps)
    torch.testing.assert_close(fused, written_out, rtol=1e-12, atol=0)


def test_without_fuse_the_product_only_gets_advice(ruleset):
    source = f"import torch\n\n\ndef norm(x, weight, eps):\n    return {FORMS[0]}\n"
    new, findings = port_python(source, ruleset)
    assert new is None and {f.rule_id for f in findings} == {"PY414"}


def test_fuse_is_part_of_the_rule_set_identity(ruleset):
    """The cache key and the prefilter's triggers come from it: a --fuse run never reuses a plain run's results."""
    assert ruleset.enabling("fuse").content_hash != ruleset.content_hash


def test_the_cli_fuses_only_with_the_flag(tmp_path):
    from click.testing import CliRunner

    from porter.cli import main

    source = tmp_path / "src"
    source.mkdir()
    (source / "norm.py").write_text(f"import torch\n\n\ndef norm(x, weight, eps):\n    return {FORMS[0]}\n")
    for flags, fused in (([], False), (["--fuse"], True)):
        out = tmp_path / f"out{len(flags)}"
        result = CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-parity", "--no-cache", *flags])
        assert result.exit_code == 0, result.output
        assert ("torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0]" in (out / "norm.py").read_text()) is fused


ATTENTION_FORMS = [
    "torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v",
    "F.softmax(q @ k.transpose(-1, -2) * scale, -1) @ v",
    "F.softmax(scale * (q @ k.mT) + bias, dim=-1) @ v",
    "torch.nn.functional.softmax((q @ k.transpose(2, 3) / math.sqrt(d)).masked_fill(mask, -1e9), dim=-1) @ v",
    "torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale, dim=-1), v)",
    "torch.softmax(bias + q @ k.transpose(-2, -1), dim=-1, dtype=torch.float32) @ v",
]
NOT_ATTENTION = [
    "F.softmax(q @ k.transpose(-2, -1), dim=-1)",  # no `@ v`
    "q @ k.transpose(-2, -1) @ v",  # no softmax
    "F.softmax(q @ k, dim=-1) @ v",  # the key not transposed
    "F.softmax(q @ k.transpose(0, 1), dim=-1) @ v",  # not the last two dimensions
    "F.softmax(q @ k.transpose(-2, -1), dim=0) @ v",  # not over the keys
    "F.softmax(q @ k.transpose(-2, -1)) @ v",  # the implicit dim
    "v @ F.softmax(q @ k.transpose(-2, -1), dim=-1)",  # the probabilities on the right
    "F.softmax(q @ k.transpose(-2, -1), dim=-1) * v",  # a product
    "F.softmax(q @ k.transpose(-2, -1) - bias, dim=-1) @ v",  # subtracted: not a mask porter knows
]


ATTENTION_STATEMENTS = [  # PY418 read through the assignments before the matmul
    "    attn = q @ k.transpose(-2, -1) * scale\n    attn = attn.softmax(dim=-1)\n    return attn @ v",
    "    s = torch.matmul(q, k.transpose(-2, -1))\n    s = s.masked_fill(mask, -1e9)\n    p = F.softmax(s, dim=-1)\n"
    "    p = F.dropout(p, 0.1)\n    return torch.matmul(p, v)",
    "    attn = (q @ k.mT).softmax(-1)\n    attn = params.attn_drop(attn)\n    out = attn @ v\n    return out",
    "    return (q @ k.mT).softmax(-1) @ v",
]
NOT_ATTENTION_STATEMENTS = [
    "    attn = (q @ k.mT).softmax(-1)\n    attn.mul_(2)\n    return attn @ v",  # changed in place before
    "    attn = (q @ k.mT).softmax(1)\n    return attn @ v",  # over another dimension
    "    attn = params.proj((q @ k.mT).softmax(-1))\n    return attn @ v",  # a module other than a dropout
    "    attn = q @ k.mT\n    if mask:\n        attn = attn + bias\n    return attn.softmax(-1) @ v",  # a branch
    "    attn = (q @ k.mT).softmax(-1)\n    v = attn @ v\n    return attn @ v",  # attn named between
]


def _findings(body: str, ruleset, header="import math\n\nimport torch\nimport torch.nn.functional as F\n\n\n"):
    source = f"{header}def f(q, k, v, d, scale, bias, mask, params, states, lr):\n{body}\n"
    new, findings = port_python(source, ruleset)
    assert new is None  # advice: the code is never changed
    return findings


@pytest.mark.parametrize("expression", ATTENTION_FORMS)
def test_attention_written_out_gets_advice_naming_its_operands(expression, ruleset):
    for rules in (ruleset, ruleset.enabling("fuse")):
        (finding,) = _findings(f"    return {expression}", rules)
        assert finding.rule_id == "PY418" and finding.status.value == "review"
        assert "here q is `q`, k `k` and v `v`" in finding.message
        for needed in ("torch_npu.npu_fusion_attention", 'input_layout="BNSD"', "True where a position is masked",
                       "keep_prob=1 - p"):
            assert needed in finding.message


@pytest.mark.parametrize("expression", NOT_ATTENTION)
def test_what_is_not_attention_gets_no_attention_advice(expression, ruleset):
    assert _findings(f"    return {expression}", ruleset) == []


def test_the_advised_call_computes_the_written_out_attention():
    """What the advice claims, against the model of the NPU operator: BNSD, the scale passed, True masks."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    mask, scale = torch.rand(2, 1, 5, 5, generator=generator) < 0.3, 8 ** -0.5
    mask[..., 0] = False  # no row entirely masked
    written_out = torch.softmax((q @ k.transpose(-2, -1) * scale).masked_fill(mask, float("-inf")), dim=-1) @ v
    fused = npu_fusion_attention(q, k, v, q.shape[1], "BNSD", scale=scale, atten_mask=mask)[0]
    torch.testing.assert_close(fused, written_out, rtol=1e-12, atol=0)


ADAM = """    for p, (m, v) in zip(params, states):
        m.mul_(0.9).add_(p.grad, alpha=0.1)
        v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
        {denom}
        {update}"""


@pytest.mark.parametrize("denom, update", [
    ("denom = v.sqrt().add_(1e-8)", "p.addcdiv_(m, denom, value=-lr)"),
    ("pass", "p.data.addcdiv_(m, torch.sqrt(v) + 1e-8, value=-lr)"),
    ("pass", "p.data.addcdiv_(-lr, m, v.sqrt().add_(1e-8))"),  # the deprecated positional value
])
def test_an_adam_step_written_out_gets_advice(denom, update, ruleset):
    for rules in (ruleset, ruleset.enabling("fuse")):
        (finding,) = _findings(ADAM.format(denom=denom, update=update), rules)
        assert finding.rule_id == "PY419" and finding.status.value == "review"
        for needed in ("torch.optim.AdamW(params, ..., fused=True)", "torch_npu.optim.NpuFusedAdamW", "`m`"):
            assert needed in finding.message


@pytest.mark.parametrize("denom, update", [
    ("denom = v.sqrt().add_(1e-8)", "p.addcdiv_(p.grad, denom, value=-lr)"),  # RMSprop: the gradient itself
    ("denom = v.amax()", "p.addcdiv_(m, denom, value=-lr)"),  # no square root
    ("denom = v.sqrt()", "p.addcdiv(m, denom, value=-lr)"),  # not in place
    ("denom = v.sqrt()", "p.addcdiv_(m, *denom)"),
])
def test_other_updates_get_no_adam_advice(denom, update, ruleset):
    assert _findings(ADAM.format(denom=denom, update=update), ruleset) == []


def test_an_adam_update_outside_a_loop_or_on_the_modules_own_method_gets_no_advice(ruleset):
    assert _findings("    m.mul_(0.9)\n    p.addcdiv_(m, v.sqrt(), value=-lr)", ruleset) == []
    own = "import torch\n\n\ndef addcdiv_(p, m, d):\n    return p\n\n\n"
    assert _findings(ADAM.format(denom="pass", update="p.addcdiv_(m, v.sqrt())"), ruleset, own) == []


def test_the_prefilter_lets_a_method_anchor_through(ruleset):
    """`p.addcdiv_` resolves through no import: the word alone must send the file to libcst."""
    assert might_need_porting(ruleset, "def step(p, m, v):\n    p.addcdiv_(m, v.sqrt())\n")


ROTATIONS = {  # PY420: the module's rotation function and the npu_rotary_mul mode it computes
    "x1 = x[..., : x.shape[-1] // 2]\n    x2 = x[..., x.shape[-1] // 2 :]\n    return torch.cat((-x2, x1), dim=-1)":
        "half",
    "x1, x2 = x.chunk(2, dim=-1)\n    return torch.cat([-x2, x1], -1)": "half",
    "x1, x2 = torch.chunk(x, 2, -1)\n    return torch.cat((-x2, x1), dim=-1)": "half",
    "return torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)": "interleave",
    "x1 = x[..., ::2]\n    x2 = x[..., 1::2]\n    return torch.stack((-x2, x1), dim=-1).flatten(-2)": "interleave",
}
NOT_ROTATIONS = [
    "x1, x2 = x.chunk(2, dim=-1)\n    return torch.cat((x2, -x1), dim=-1)",  # the other direction
    "x1, x2 = x.chunk(2, dim=-1)\n    return torch.cat((-x1, x2), dim=-1)",  # not swapped
    "x1, x2 = x.chunk(2, dim=1)\n    return torch.cat((-x2, x1), dim=-1)",  # halves of another dimension
    "x1, x2 = x.chunk(2, dim=-1)\n    return torch.cat((-x2, x1), dim=1)",  # joined along another dimension
    "x1, x2 = x[..., :32], x[..., 32:64]\n    return torch.cat((-x2, x1), dim=-1)",  # part of the head
    "x1, x2 = x.chunk(2, dim=-1)\n    return torch.stack((-x2, x1), dim=-1).flatten(-2)",  # halves interleaved
    "return torch.stack([-x[..., 1::2], x[..., ::2]], -1)",  # not flattened back
    "x = x.float()\n    x1, x2 = x.chunk(2, dim=-1)\n    return torch.cat((-x2, x1), dim=-1)",  # another x
    "x1, x2 = x.chunk(2, dim=-1)\n    parts = (-x2, x1)\n    return torch.cat(parts, dim=-1)",  # a tuple built before
]
APPLY = "\n\n\ndef apply(q, cos, sin):\n    return {}\n"


def _rotary_findings(rotation: str, ruleset, apply="q * cos + rotate(q) * sin", after=""):
    source = f"import torch\n\n\ndef rotate(x):\n    {rotation}\n{after}" + APPLY.format(apply)
    new, findings = port_python(source, ruleset)
    assert new is None  # advice: the code is never changed
    return [f for f in findings if f.rule_id == "PY420"]


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_a_rotary_embedding_written_out_gets_advice_with_its_mode(rotation, ruleset):
    mode = ROTATIONS[rotation]
    for rules in (ruleset, ruleset.enabling("fuse")):
        for apply in ("q * cos + rotate(q) * sin", "(sin * rotate(q)) + (cos * q)"):
            (finding,) = _rotary_findings(rotation, rules, apply)
            call = "torch_npu.npu_rotary_mul(q, cos, sin" + (")" if mode == "half" else ', rotary_mode="interleave")')
            assert finding.status.value == "review" and call in finding.message and f'"{mode}"' in finding.message


@pytest.mark.parametrize("rotation", NOT_ROTATIONS)
def test_what_is_not_a_rotation_gets_no_rotary_advice(rotation, ruleset):
    assert _rotary_findings(rotation, ruleset) == []


@pytest.mark.parametrize(("apply", "after"), [
    ("q * cos + rotate(k) * sin", ""),  # another tensor rotated
    ("q * cos * 2 + rotate(q) * sin", ""),  # three factors
    ("q * cos - rotate(q) * sin", ""),  # a difference
    ("q * cos + rotate(q) * sin", "\n\nrotate = torch.neg"),  # rebound: the call is not the function read
    ("q * cos + rotate(q) * sin", "\n\ndef rotate(x):\n    return x"),  # defined twice
])
def test_a_sum_that_is_not_the_rotary_embedding_gets_no_advice(apply, after, ruleset):
    assert _rotary_findings(next(iter(ROTATIONS)), ruleset, apply, after) == []


SPELLINGS = {  # the rotation's calls and other spellings of its name: whether only calls spell it
    "y = rotate(1)\n\n\ndef rotate(x):\n    return x\n": True,  # called before its definition
    "def rotate(x):\n    return x\n\n\nclass A:\n    z = rotate(1)\n    f = lambda self: rotate(2)\n": True,
    "def rotate(x):\n    return x\n\n\nw = [rotate(i) for i in range(3)]\n": True,
    "def rotate(x):\n    return x\n\n\n@rotate\ndef g():\n    return rotate(1)\n": False,
    "def rotate(x):\n    return x\n\n\ndef g(rotate):\n    return rotate(1)\n": False,
    "def rotate(x):\n    return x\n\n\ndef g():\n    global rotate\n    rotate = abs\n": False,
    "def rotate(x):\n    return x\n\n\nclass A:\n    def rotate(self):\n        return rotate(1)\n": False,
    "from m import rotate\n\n\ndef rotate(x):\n    return rotate(x)\n": False,
}


@pytest.mark.parametrize("source", SPELLINGS)
def test_a_function_only_called_is_what_its_calls_bind(source):
    """fusion.only_called spares the scope analysis; where it answers, the scope analysis agrees."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, ScopeProvider

    from porter.python.fusion import only_called

    wrapper = MetadataWrapper(cst.parse_module(source))
    scopes = wrapper.resolve(ScopeProvider)
    (function,) = [s for s in wrapper.module.body if isinstance(s, cst.FunctionDef) and s.name.value == "rotate"]
    assert only_called(wrapper.module, function) is SPELLINGS[source]
    if SPELLINGS[source]:
        calls = [n for n in scopes if isinstance(n, cst.Call) and isinstance(n.func, cst.Name)
                 and n.func.value == "rotate"]
        assert calls and all([a.node for a in scopes[call.func][call.func.value]] == [function] for call in calls)


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_the_advised_call_computes_the_written_out_rotary_embedding(rotation):
    """The mode the advice names, against the model of npu_rotary_mul: the other mode gives other numbers."""
    scope = {"torch": torch}
    exec(f"def rotate(x):\n    {rotation}\n", scope)
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 8, 64, generator=generator, dtype=torch.float64)
    cos, sin = (torch.rand(1, 1, 8, 64, generator=generator, dtype=torch.float64) * 2 - 1 for _ in range(2))
    written_out = q * cos + scope["rotate"](q) * sin
    mode, other = ROTATIONS[rotation], {"half": "interleave", "interleave": "half"}[ROTATIONS[rotation]]
    torch.testing.assert_close(npu_rotary_mul(q, cos, sin, rotary_mode=mode), written_out, rtol=1e-12, atol=0)
    assert not torch.allclose(npu_rotary_mul(q, cos, sin, rotary_mode=other), written_out)


def test_the_rotary_model_refuses_the_shapes_the_advice_warns_of():
    q = torch.randn(2, 4, 8, 64)
    for cos in (torch.rand(8, 64), torch.rand(1, 8, 64), torch.rand(1, 1, 1, 64)):  # 2-D, 3-D, 111D
        with pytest.raises(ValueError):
            npu_rotary_mul(q, cos, cos)
    with pytest.raises(ValueError):
        npu_rotary_mul(q[0], torch.rand(1, 8, 64), torch.rand(1, 8, 64))  # a 3-D input
    with pytest.raises(ValueError):
        npu_rotary_mul(q, torch.rand(2, 1, 8, 64), torch.rand(2, 1, 8, 64), rotary_mode="interleave")  # B1SD


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_the_prefilter_lets_a_rotation_through(rotation, ruleset):
    source = f"import torch\n\n\ndef rotate(x):\n    {rotation}\n" + APPLY.format("q * cos + rotate(q) * sin")
    assert might_need_porting(ruleset, source)
    assert not might_need_porting(ruleset, source.replace("-x", "x"))  # no other rule reads this code


SWIGLU_HALVES = [  # PY421 (--fuse): the block before the product, the product
    ("a, b = x.chunk(2, dim=-1)", "F.silu(a) * b"),
    ("a, b = torch.chunk(x, 2, -1)", "b * F.silu(a)"),
    ("[a, b] = x.chunk(2, 1)\n    unrelated = 3", "F.silu(a) * b"),
    ("a, b = torch.chunk(x, chunks=2, dim=0)", "(F.silu(a)) * b"),
]
NOT_SWIGLU_HALVES = [
    ("a, b = x.chunk(2, dim=-1)", "F.silu(b) * a"),  # the second half gating the first
    ("a, b = x.chunk(3, dim=-1)[:2]", "F.silu(a) * b"),  # not halves
    ("a, b = x.chunk(2, dim=-1)\n    a = a * 2", "F.silu(a) * b"),  # a named again
    ("a, b = x.chunk(2, dim=-1)\n    x = x.flip(-1)", "F.silu(a) * b"),  # x named again
    ("a, b = x.chunk(2, dim=dim)", "F.silu(a) * b"),  # a dimension known at run time
    ("a, b = x.split(4, dim=-1)", "F.silu(a) * b"),  # split by size
    ("a, b = (x * 2).chunk(2, dim=-1)", "F.silu(a) * b"),  # halves of an expression
    ("a, b = x.chunk(2, dim=-1)", "F.silu(a) * b * 2"),  # three factors
    ("a, b = x.chunk(2, dim=-1)", "(x := x + 1) + F.silu(a) * b"),  # x rebound in the line itself
]


def _swiglu_ported(block: str, product: str, ruleset):
    source = f"import torch\nimport torch.nn.functional as F\n\n\ndef f(x, dim):\n    {block}\n    return {product}\n"
    return port_python(source, ruleset)


@pytest.mark.parametrize(("block", "product"), SWIGLU_HALVES)
def test_the_fused_swiglu_computes_the_written_out_product(block, product, ruleset):
    new, findings = _swiglu_ported(block, product, ruleset.enabling("fuse"))
    (finding,) = [f for f in findings if f.rule_id in ("PY417", "PY421")]
    assert finding.rule_id == "PY421" and finding.status.value == "review" and new is not None
    x = torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    scope = {"torch_npu": types.SimpleNamespace(npu_swiglu=npu_swiglu)}
    exec(compile(new.replace("import torch_npu\n", ""), "<ported>", "exec"), scope)
    written_out = {}
    exec(f"import torch\nimport torch.nn.functional as F\n\n\ndef f(x, dim):\n    {block}\n    return {product}\n",
         written_out)
    torch.testing.assert_close(scope["f"](x, None), written_out["f"](x, None), rtol=1e-12, atol=0)
    reference = eval(finding.computes, {"torch": torch, "F": torch.nn.functional, "x": x})  # what the parity case runs
    torch.testing.assert_close(reference, written_out["f"](x, None), rtol=0, atol=0)


@pytest.mark.parametrize(("block", "product"), NOT_SWIGLU_HALVES)
def test_what_is_not_a_split_swiglu_stays(block, product, ruleset):
    new, findings = _swiglu_ported(block, product, ruleset.enabling("fuse"))
    assert new is None and "PY421" not in {f.rule_id for f in findings}


def test_without_fuse_split_halves_only_get_swiglu_advice(ruleset):
    new, findings = _swiglu_ported(*SWIGLU_HALVES[0], ruleset)
    assert new is None and [f.rule_id for f in findings] == ["PY417"]


def test_the_swiglu_model_gates_the_first_half_with_the_second():
    x = torch.randn(3, 8, dtype=torch.float64)
    first, second = x[:, :4], x[:, 4:]
    torch.testing.assert_close(npu_swiglu(x), first * torch.sigmoid(first) * second, rtol=1e-12, atol=0)
    with pytest.raises(ValueError):
        npu_swiglu(torch.randn(3, 7))


@pytest.mark.parametrize("body", ATTENTION_STATEMENTS)
def test_attention_spread_over_statements_gets_advice(body, ruleset):
    (finding,) = _findings(body, ruleset)
    assert finding.rule_id == "PY418" and "here q is `q`, k `k` and v `v`" in finding.message


@pytest.mark.parametrize("body", NOT_ATTENTION_STATEMENTS[:-1])
def test_statements_that_are_not_attention_get_no_advice(body, ruleset):
    assert _findings(body, ruleset) == []


def test_any_statement_naming_the_name_ends_its_reading(ruleset):
    """`v = attn @ v` is attention, read through the line above; after it, `attn` is not followed past that line,
    which might have changed it in place (porter does not tell reads from in-place updates)."""
    findings = _findings(NOT_ATTENTION_STATEMENTS[-1], ruleset)
    assert [f.span.line for f in findings] == [9]


def test_the_prefilter_lets_a_softmax_method_through(ruleset):
    body = "def f(q, k, v):\n    return (q @ k.mT).softmax(-1) @ v\n"
    assert might_need_porting(ruleset, body)
    assert not might_need_porting(ruleset, body.replace(".softmax(-1)", "") + "# a softmax in a comment\n")


@pytest.mark.parametrize(("body", "advised"), [
    ("    variance = x.pow(2).mean(-1, keepdim=True)\n    return x * torch.rsqrt(variance + eps)", True),
    ("    x = x.float()\n    m = x.square().mean(dim=-1, keepdim=True)\n    return x * torch.rsqrt(eps + m)", True),
    ("    variance = x.pow(2).mean(-1, keepdim=True)\n    variance = variance.sum()\n"
     "    return x * torch.rsqrt(variance + eps)", False),  # not a mean any more
    ("    variance = x.pow(2).mean(0)\n    return x * torch.rsqrt(variance + eps)", False),  # another dimension
    ("    variance = x.pow(2).mean(-1, keepdim=True)\n    variance.mul_(2)\n    return x * torch.rsqrt(variance + eps)",
     False),  # changed in place
])
def test_an_rmsnorm_whose_mean_is_assigned_before_gets_advice(body, advised, ruleset):
    new, findings = port_python(f"import torch\n\n\ndef norm(x, eps):\n{body}\n", ruleset)
    assert new is None and [f.rule_id for f in findings] == (["PY414"] if advised else [])
