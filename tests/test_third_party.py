"""CUDA-only libraries (PY411 attention, PY412 Apex): the ported call computes what the original call meant.

The original side is the library's documented semantics written out in torch (flash-attn: bottom-right causal
mask, 1/sqrt(dim) default scale, grouped-query heads; xFormers: top-left LowerTriangularMask). The NPU side runs
the ported source with a CPU model of `torch_npu.npu_fusion_attention` written from its documentation in the
torch-npu 2.13.0 wheel (`_op_plugin_docs.py`): layouts, `scale` (default 1.0), `atten_mask` where True means
masked, `sparse_mode` 2/3 with the 2048x2048 compressed mask, cumulative `actual_seq_qlen/kvlen`, output item 0.
"""

import sys
import types

import pytest
import torch

from porter.python import port_python

# --------------------------------------------------------------------------- the two meanings, written out


def reference_attention(q, k, v, scale=None, causal=False, top_left=False):
    """flash-attn's contract on [batch, seq, heads, dim]: K/V heads may be fewer (grouped), causal is bottom-right."""
    groups = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(groups, dim=2), v.repeat_interleave(groups, dim=2)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if causal:
        sq, sk = q.shape[1], k.shape[1]
        offset = 0 if top_left else sk - sq
        masked = torch.arange(sk)[None, :] > torch.arange(sq)[:, None] + offset
        scores = scores.masked_fill(masked, float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1).nan_to_num(0.0), v)  # a row with no key gives 0


def npu_fusion_attention_model(query, key, value, head_num, input_layout, *, pse=None, atten_mask=None, scale=1.0,
                               keep_prob=1.0, actual_seq_qlen=None, actual_seq_kvlen=None, sparse_mode=0, **rest):
    """What the documentation says the NPU operator computes (forward, no dropout)."""
    assert not rest and pse is None and keep_prob == 1.0
    assert query.shape[-2] == head_num if input_layout in ("BSND", "TND") else False
    if atten_mask is not None and sparse_mode in (2, 3):
        assert atten_mask.dtype == torch.bool and atten_mask.shape == (2048, 2048)
        assert torch.equal(atten_mask, torch.ones(2048, 2048, dtype=torch.bool).triu(1))  # the documented mask
    if input_layout == "TND":
        outs, q_start, k_start = [], 0, 0
        for q_end, k_end in zip(actual_seq_qlen, actual_seq_kvlen):
            part = _dense_model(query[None, q_start:q_end], key[None, k_start:k_end], value[None, k_start:k_end],
                                scale, atten_mask, sparse_mode)
            outs.append(part[0])
            q_start, k_start = q_end, k_end
        return torch.cat(outs), None, None, None, 0, 0, 0
    return _dense_model(query, key, value, scale, atten_mask, sparse_mode), None, None, None, 0, 0, 0


def _dense_model(q, k, v, scale, atten_mask, sparse_mode):
    groups = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(groups, dim=2), v.repeat_interleave(groups, dim=2)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    sq, sk = q.shape[1], k.shape[1]
    if atten_mask is not None:
        rows, cols = torch.arange(sq)[:, None], torch.arange(sk)[None, :]
        if sparse_mode == 2:
            masked = cols > rows
        elif sparse_mode == 3:
            masked = cols > rows + sk - sq
        else:
            masked = atten_mask[..., :sq, :sk]
        scores = scores.masked_fill(masked, float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1).nan_to_num(0.0), v)  # invalid rows (inner_precise)


@pytest.fixture
def fake_torch_npu(monkeypatch):
    """A stand-in module so ported code can be executed on CPU (porter itself never imports torch_npu)."""
    module = types.ModuleType("torch_npu")
    module.npu_fusion_attention = npu_fusion_attention_model
    monkeypatch.setitem(sys.modules, "torch_npu", module)
    return module


def ported_function(source, ruleset, name="attend"):
    new, findings = port_python(source, ruleset)
    assert new is not None, [f.message for f in findings]
    assert "flash_attn" not in new and "xformers" not in new, new
    namespace = {}
    exec(compile(new, "<ported>", "exec"), namespace)  # noqa: S102 - the ported test snippet, not user code
    return namespace[name], new


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


# --------------------------------------------------------------------------- attention numerics

@pytest.mark.parametrize("call, kwargs", [
    ("flash_attn_func(q, k, v)", {}),
    ("flash_attn_func(q, k, v, causal=True)", {"causal": True}),
    ("flash_attn_func(q, k, v, 0.0, 0.3, True)", {"scale": 0.3, "causal": True}),
    ("flash_attn_func(q, k, v, softmax_scale=scale, causal=causal)", {"scale": None, "causal": True}),
    ("flash_attn_func(q, k, v, softmax_scale=scale, causal=causal)", {"scale": 0.2, "causal": False}),
])
@pytest.mark.parametrize("sq, sk, kv_heads", [(5, 5, 4), (3, 7, 2), (6, 4, 1)])
def test_flash_attn_func_matches_its_meaning(call, kwargs, sq, sk, kv_heads, ruleset, fake_torch_npu):
    source = f"from flash_attn import flash_attn_func\n\ndef attend(q, k, v, scale, causal):\n    return {call}\n"
    attend, new = ported_function(source, ruleset)
    assert "npu_fusion_attention" in new
    q, k, v = rand(2, sq, 4, 8), rand(2, sk, kv_heads, 8), rand(2, sk, kv_heads, 8)
    expected = reference_attention(q, k, v, kwargs.get("scale"), kwargs.get("causal", False))
    torch.testing.assert_close(attend(q, k, v, kwargs.get("scale"), kwargs.get("causal", False)), expected)


def test_sdpa_fallback_matches_flash_attn(ruleset, fake_torch_npu):
    """A query that is not a plain name falls back to SDPA, which runs here for real."""
    source = ("from flash_attn import flash_attn_func\n\n"
              "def attend(q, k, v):\n    return flash_attn_func(q * 1.0, k, v, softmax_scale=0.5)\n")
    attend, new = ported_function(source, ruleset)
    assert "scaled_dot_product_attention" in new
    q, k, v = rand(2, 5, 4, 8), rand(2, 6, 2, 8), rand(2, 6, 2, 8)
    out = attend(q, k, v)
    torch.testing.assert_close(out, reference_attention(q, k, v, 0.5))
    assert out.is_contiguous() and out.shape == q.shape


def test_packed_forms_match(ruleset, fake_torch_npu):
    source = ("from flash_attn import flash_attn_qkvpacked_func, flash_attn_kvpacked_func\n\n"
              "def attend(qkv, q, kv):\n"
              "    return (flash_attn_qkvpacked_func(qkv, causal=True), flash_attn_kvpacked_func(q, kv),\n"
              "            flash_attn_qkvpacked_func(qkv.double(), softmax_scale=0.25))\n")
    attend, new = ported_function(source, ruleset)
    qkv, q, kv = rand(2, 5, 3, 4, 8), rand(2, 3, 4, 8), rand(2, 6, 2, 2, 8)
    packed, kv_packed, fallback = attend(qkv, q, kv)
    torch.testing.assert_close(packed, reference_attention(*qkv.unbind(2), causal=True))
    torch.testing.assert_close(kv_packed, reference_attention(q, *kv.unbind(2)))
    torch.testing.assert_close(fallback, reference_attention(*qkv.unbind(2), scale=0.25))
    assert "scaled_dot_product_attention" in new  # the third call had no plain name for the head count


def test_varlen_matches_per_sequence_attention(ruleset, fake_torch_npu):
    source = ("from flash_attn import flash_attn_varlen_func\n\n"
              "def attend(q, k, v, cu_q, cu_k):\n"
              "    return flash_attn_varlen_func(q, k, v, cu_q, cu_k, 4, 6, causal=True)\n")
    attend, new = ported_function(source, ruleset)
    assert '"TND"' in new
    q_lengths, k_lengths = [3, 1, 4], [5, 2, 6]
    q, k, v = rand(sum(q_lengths), 4, 8), rand(sum(k_lengths), 2, 8), rand(sum(k_lengths), 2, 8)
    cu_q = torch.tensor([0, *torch.tensor(q_lengths).cumsum(0).tolist()], dtype=torch.int32)
    cu_k = torch.tensor([0, *torch.tensor(k_lengths).cumsum(0).tolist()], dtype=torch.int32)
    expected = torch.cat([
        reference_attention(qs[None], ks[None], vs[None], causal=True)[0]
        for qs, ks, vs in zip(q.split(q_lengths), k.split(k_lengths), v.split(k_lengths))])
    torch.testing.assert_close(attend(q, k, v, cu_q, cu_k), expected)


def test_xformers_lower_triangular_mask_is_top_left(ruleset, fake_torch_npu):
    source = ("import xformers.ops as xops\n\n"
              "def attend(q, k, v):\n"
              "    return xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask(), scale=0.3)\n")
    attend, _ = ported_function(source, ruleset)
    q, k, v = rand(2, 3, 4, 8), rand(2, 6, 4, 8), rand(2, 6, 4, 8)
    torch.testing.assert_close(attend(q, k, v), reference_attention(q, k, v, 0.3, causal=True, top_left=True))


def test_dropout_becomes_keep_probability(ruleset):
    new, _ = port_python("from flash_attn import flash_attn_func\n"
                         "out = flash_attn_func(q, k, v, dropout_p=self.p if training else 0.0)\n", ruleset)
    assert "keep_prob=1 - (self.p if training else 0.0)" in new
    new, _ = port_python("import xformers.ops as xops\nout = xops.memory_efficient_attention(q, k, v, p=0.1)\n",
                         ruleset)
    assert "keep_prob=1 - 0.1" in new


# --------------------------------------------------------------------------- reported, never changed

@pytest.mark.parametrize("call, status, words", [
    ("flash_attn_func(q, k, v, alibi_slopes=slopes)", "review", "alibi_slopes"),
    ("flash_attn_func(q, k, v, alibi_slopes=torch.ones(4))", "review", "alibi_slopes"),
    ("flash_attn_func(q, k, v, window_size=(128, 0))", "unsupported", "sparse_mode=4"),
    ("flash_attn_func(q, k, v, softcap=30.0)", "unsupported", "soft-capping"),
    ("flash_attn_func(q, k, v, deterministic=True)", "review", "use_deterministic_algorithms"),
    ("flash_attn_func(q, k, v, return_attn_probs=True)", "unsupported", "probabilities"),
    ("flash_attn_func(q, k, v, causal=flags[0])", "review", "decided at run time"),
    ("flash_attn_func(q, k, v, 0.0, None, False, (-1, -1))", "review", "ambiguous"),
    ("flash_attn_func(**kwargs)", "review", "hides"),
    ("flash_attn_func(q.float(), k, v, causal=True)", "review", "top-left"),
    ("flash_attn_varlen_func(q.float(), k, v, cu, cu, 4, 4)", "review", "head count"),
    ("flash_attn_varlen_func(q, k, v, cu, cu, 4, 4, block_table=pages)", "review", "not in the TND layout"),
    ("flash_attn_func(q, k, v, softmax_scale=cfg.get('scale'))", "review", "None at run time"),
])
def test_unsafe_flags_are_reported_not_converted(call, status, words, ruleset):
    source = f"import torch\nfrom flash_attn import flash_attn_func, flash_attn_varlen_func\nout = {call}\n"
    new, findings = port_python(source, ruleset)
    assert new is None
    (finding,) = [f for f in findings if f.rule_id == "PY411"]
    assert finding.status.value == status and words in finding.message and finding.replacement is None


def test_a_local_function_with_the_library_name_is_left_alone(ruleset):
    source = "def flash_attn_func(q, k, v):\n    return q\n\nout = flash_attn_func(q, k, v)\n"
    assert port_python(source, ruleset) == (None, [])


def test_import_is_kept_and_reported_while_a_use_remains(ruleset):
    source = ("from flash_attn import flash_attn_func\n"
              "a = flash_attn_func(q, k, v)\nb = flash_attn_func(q, k, v, window_size=(8, 8))\n")
    new, findings = port_python(source, ruleset)
    assert new.startswith("from flash_attn import flash_attn_func\n")
    assert {f.rule_id for f in findings} >= {"PY401", "PY411"}


def test_a_removed_import_is_not_reported(ruleset):
    new, findings = port_python("from flash_attn import flash_attn_func\nout = flash_attn_func(q, k, v)\n", ruleset)
    assert "flash_attn" not in new
    assert "PY401" not in {f.rule_id for f in findings}


# --------------------------------------------------------------------------- Apex numerics


def test_fused_adam_keeps_apex_defaults(ruleset):
    """Apex FusedAdam is AdamW with weight_decay=0 by default; torch.optim.AdamW's default decay is 0.01."""
    source = "from apex.optimizers import FusedAdam\n\ndef attend(params):\n    return FusedAdam(params, 0.1)\n"
    make, _ = ported_function(source, ruleset)
    torch.manual_seed(0)
    weight = torch.nn.Parameter(rand(5))
    reference = weight.detach().clone()
    optimizer = make([weight])
    m = v = torch.zeros_like(reference)
    for step in range(1, 4):
        grad = rand(5)
        weight.grad = grad.clone()
        optimizer.step()
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad * grad  # Apex's update, weight_decay=0
        reference -= 0.1 * (m / (1 - 0.9 ** step)) / ((v / (1 - 0.999 ** step)).sqrt() + 1e-8)
    torch.testing.assert_close(weight.detach(), reference)


def test_fused_rms_norm_keeps_apex_epsilon(ruleset):
    source = "from apex.normalization import FusedRMSNorm\n\ndef attend(n):\n    return FusedRMSNorm(n)\n"
    make, _ = ported_function(source, ruleset)
    x = rand(3, 4) * 1e-3  # small enough that eps=1e-5 and the dtype's epsilon give different results
    norm = make(4).double()
    torch.testing.assert_close(norm(x), x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def test_fused_adam_positional_arguments_are_mapped_by_name(ruleset):
    new, _ = port_python("from apex.optimizers import FusedAdam\n"
                         "opt = FusedAdam(params, 1e-3, True, (0.9, 0.95), 1e-6, False, 0.1)\n", ruleset)
    assert "torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.1)" in new


def test_a_multi_line_call_stays_multi_line_with_its_comments(ruleset):
    source = ("from flash_attn.flash_attn_interface import (\n    flash_attn_func,\n    flash_attn_with_kvcache,\n)\n"
              "out = flash_attn_func(\n    q,  # queries\n    k,\n    v,\n    dropout_p=0.0,  # eval only\n)\n")
    new, _ = port_python(source, ruleset)
    assert new.startswith("from flash_attn.flash_attn_interface import (\n    flash_attn_with_kvcache,\n)\n")
    assert ("out = torch_npu.npu_fusion_attention(  # eval only\n    q,  # queries\n    k,\n    v,\n"
            "    q.shape[2],\n    \"BSND\",\n    scale=q.shape[-1] ** -0.5,\n)[0]\n") in new


@pytest.mark.parametrize("expression, advised", [
    ("x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)", True),
    ("x * torch.rsqrt((x ** 2).mean(dim=-1, keepdim=True) + eps)", True),
    ("x * torch.rsqrt(x.pow(2).mean(0) + eps)", False),  # not over the last dimension
    ("torch.rsqrt(var + eps)", False),
])
def test_rms_norm_advice(expression, advised, ruleset):
    new, findings = port_python(f"import torch\ny = {expression}\n", ruleset)
    advice = [f for f in findings if f.rule_id == "PY414"]
    assert new is None and len(advice) == advised
    assert all("npu_rms_norm" in f.message and f.replacement is None for f in advice)


def test_an_installed_check_is_reported_as_one(ruleset):
    """flash-linear-attention's layers raise ImportError when `flash_attn_func is None`: on NPU that check fires."""
    source = ("try:\n    from flash_attn import flash_attn_func\nexcept ImportError:\n    flash_attn_func = None\n"
              "if flash_attn_func is None:\n    raise ImportError('install flash-attn')\n"
              "assert flash_attn_func is not None\nfn = flash_attn_func\n")
    _, findings = port_python(source, ruleset)
    checks, plain = [], []
    for finding in (f for f in findings if f.rule_id == "PY411"):
        (checks if "compared with None" in finding.message else plain).append(finding.status.value)
    assert checks == ["review", "review"] and plain == ["review"]


def test_a_fallback_chain_is_left_as_the_rename_rules_leave_it(ruleset):
    """megatron-core binds SGD to Transformer Engine's, Apex's or torch's optimizer, whichever imports."""
    source = ("try:\n    from apex.optimizers import FusedSGD as SGD\nexcept ImportError:\n"
              "    from torch.optim import SGD\nopt = SGD(params, lr=0.1, momentum=0.9)\n")
    new, findings = port_python(source, ruleset)
    (finding,) = [f for f in findings if f.rule_id == "PY412"]
    assert new is None and finding.status.value == "review" and "fallback chain" in finding.message
