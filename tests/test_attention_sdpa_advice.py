"""PY415: the npu_fusion_attention call each SDPA advice writes out computes what the SDPA call computes.

The SDPA side is torch's own function, run on CPU. The NPU side is a model of `torch_npu.npu_fusion_attention`
written from the torch-npu 2.13.0 `_op_plugin_docs.py`: `scale * (pse + q @ k^T)`, then `atten_mask` where True
means masked, or sparse_mode 2 (leftUpCausal) with the 2048x2048 compressed mask; grouped K/V heads; item 0.
"""

import re
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from porter.python import port_python


def npu_fusion_attention_model(query, key, value, head_num, input_layout, *, pse=None, atten_mask=None, scale=1.0,
                               keep_prob=1.0, sparse_mode=0, **rest):
    assert not rest and input_layout == "BNSD" and query.shape[1] == head_num and keep_prob == 1.0
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    scores = scale * ((0 if pse is None else pse) + query @ key.transpose(-2, -1))
    sq, sk = scores.shape[-2:]
    if sparse_mode == 2:
        assert torch.equal(atten_mask, torch.ones(2048, 2048, dtype=torch.bool).triu(1))
        scores = scores.masked_fill(torch.arange(sk)[None, :] > torch.arange(sq)[:, None], float("-inf"))
    elif atten_mask is not None:
        assert sparse_mode == 0 and atten_mask.dtype == torch.bool
        scores = scores.masked_fill(atten_mask, float("-inf"))
    return scores.softmax(-1) @ value, None, None, None, 0, 0, 0


@pytest.fixture
def fake_torch_npu(monkeypatch):
    module = types.ModuleType("torch_npu")
    module.npu_fusion_attention = npu_fusion_attention_model
    monkeypatch.setitem(sys.modules, "torch_npu", module)


def advised(call, ruleset):
    """The function with the SDPA call replaced by the call its PY415 advice writes out."""
    source = f"import torch\nimport torch.nn.functional as F\n\ndef attend(q, k, v, mask, causal):\n    return {call}\n"
    new, findings = port_python(source, ruleset)
    (finding,) = [f for f in findings if f.rule_id == "PY415"]
    assert new is None and finding.status.value == "review" and finding.replacement is None
    suggested = re.search(r"`(torch_npu\.npu_fusion_attention\(.*?\)\[0\])`", finding.message).group(1)
    namespace = {}
    exec(compile("import torch_npu\n" + source.replace(call, suggested), "<advised>", "exec"), namespace)  # noqa: S102
    return namespace["attend"], finding.message


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


@pytest.mark.parametrize("call, causal", [
    ("F.scaled_dot_product_attention(q, k, v)", False),
    ("F.scaled_dot_product_attention(q, k, v, is_causal=True)", True),
    ("F.scaled_dot_product_attention(q, k, v, None, 0.0, True, scale=0.3)", True),
    ("F.scaled_dot_product_attention(q, k, v, is_causal=causal)", True),
    ("F.scaled_dot_product_attention(q, k, v, is_causal=causal)", False),
    ("F.scaled_dot_product_attention(q, k, v, attn_mask=mask)", False),
    ("F.scaled_dot_product_attention(q, k, v, mask, enable_gqa=True)", False),
])
@pytest.mark.parametrize("sq, sk, kv_heads", [(5, 5, 4), (3, 7, 2), (6, 4, 4)])
def test_the_advised_call_computes_what_sdpa_does(call, causal, sq, sk, kv_heads, ruleset, fake_torch_npu):
    attend, _ = advised(call, ruleset)
    q, k, v = rand(2, 4, sq, 8), rand(2, kv_heads, sk, 8), rand(2, kv_heads, sk, 8)
    mask = torch.rand(2, 1, sq, sk) > 0.3
    mask[..., 0] = True  # every query keeps a key: SDPA gives NaN for a row with none
    gqa = kv_heads != 4
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask if "mask" in call else None, is_causal=causal,
                                              scale=0.3 if "0.3" in call else None, enable_gqa=gqa)
    torch.testing.assert_close(attend(q, k, v, mask, causal), expected)


def test_an_additive_mask_is_pse_over_the_scale(ruleset, fake_torch_npu):
    """What the advice says of a float mask (open_clip passes one), checked against the same model."""
    _, message = advised("F.scaled_dot_product_attention(q, k, v, attn_mask=mask)", ruleset)
    assert "computes the same on [batch, heads, seq, dim] inputs when mask is boolean" in message
    assert "pse=mask / scale instead of atten_mask" in message
    q, k, v, bias = rand(2, 4, 5, 8), rand(2, 4, 6, 8), rand(2, 4, 6, 8), rand(2, 1, 5, 6)
    npu = npu_fusion_attention_model(q, k, v, 4, "BNSD", pse=bias / 0.5, scale=0.5)[0]
    torch.testing.assert_close(npu, F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.5))


def test_dropout_and_a_hidden_argument_list(ruleset):
    new, findings = port_python("import torch.nn.functional as F\ny = F.scaled_dot_product_attention(q, k, v, "
                                "dropout_p=0.1 if training else 0.0)\nz = F.scaled_dot_product_attention(*qkv)\n",
                                ruleset)
    first, second = [f for f in findings if f.rule_id == "PY415"]
    assert new is None and "keep_prob=1 - (0.1 if training else 0.0)" in first.message
    assert "in eval too" in first.message and "npu_fusion_attention(" not in second.message


def test_a_local_function_of_the_same_name_gets_no_advice(ruleset):
    source = "def scaled_dot_product_attention(q, k, v):\n    return q\n\ny = scaled_dot_product_attention(q, k, v)\n"
    assert port_python(source, ruleset) == (None, [])
