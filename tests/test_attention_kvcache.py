"""flash_attn_with_kvcache (PY411): a call on a cache it only reads computes the same as its NPU form.

The original side is flash-attn's documented meaning written out in torch: each batch row attends to
k_cache[b, :cache_seqlens[b]] (the whole cache without cache_seqlens), grouped-query heads, 1/sqrt(dim) default
scale, causal aligned bottom-right against that length. The NPU side runs the ported source with a CPU model of
`torch_npu.npu_fused_infer_attention_score` written from the torch-npu 2.13.0 `_op_plugin_docs.py`: BSND layout,
`num_heads`/`num_key_value_heads`, `scale` (default 1.0), `actual_seq_lengths_kv` (each batch's valid keys, one
value for every batch), `atten_mask` True-masked of shape (B or 1, 1, S_q, S_kv) with sparse_mode 0, the 2048x2048
mask with sparse_mode 3 (rightDownCausal, ignored for a one-token query), output item 0.
"""

import sys
import types

import pytest
import torch

from porter.python import port_python


def reference_kvcache(q, k_cache, v_cache, lengths=None, scale=None, causal=False):
    batch, sq = q.shape[:2]
    lengths = [k_cache.shape[1]] * batch if lengths is None else torch.as_tensor(lengths).expand(batch).tolist()
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    groups = q.shape[2] // k_cache.shape[2]
    outs = []
    for b, length in enumerate(lengths):
        k = k_cache[b, :length].repeat_interleave(groups, dim=1)
        v = v_cache[b, :length].repeat_interleave(groups, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q[b], k) * scale
        if causal:
            masked = torch.arange(length)[None, :] > torch.arange(sq)[:, None] + length - sq
            scores = scores.masked_fill(masked, float("-inf"))
        outs.append(torch.einsum("hqk,khd->qhd", scores.softmax(-1), v))
    return torch.stack(outs)


def npu_fused_infer_attention_score_model(query, key, value, *, num_heads=1, num_key_value_heads=0, scale=1.0,
                                          input_layout="BSH", actual_seq_lengths_kv=None, atten_mask=None,
                                          sparse_mode=0, **rest):
    """What the documentation says the inference operator computes (BSND only: the layout porter emits)."""
    assert not rest and input_layout == "BSND"
    batch, sq, heads = query.shape[:3]
    skv, kv_heads = key.shape[1], key.shape[2]
    assert heads == num_heads and num_key_value_heads in (0, kv_heads) and key.shape == value.shape
    groups = heads // kv_heads
    k, v = key.repeat_interleave(groups, dim=2), value.repeat_interleave(groups, dim=2)
    scores = torch.einsum("bqhd,bkhd->bhqk", query, k) * scale
    masked = torch.zeros(batch, 1, sq, skv, dtype=torch.bool)
    if actual_seq_lengths_kv is not None:
        assert all(isinstance(n, int) for n in actual_seq_lengths_kv)
        lengths = actual_seq_lengths_kv * batch if len(actual_seq_lengths_kv) == 1 else actual_seq_lengths_kv[:batch]
        masked |= torch.arange(skv) >= torch.tensor(lengths).reshape(-1, 1, 1, 1)
    if sparse_mode == 3:
        assert actual_seq_lengths_kv is None  # porter does not combine the two
        assert torch.equal(atten_mask, torch.ones(2048, 2048, dtype=torch.bool).triu(1))
        if sq > 1:
            masked |= torch.arange(skv)[None, :] > torch.arange(sq)[:, None] + skv - sq
    elif atten_mask is not None:
        assert sparse_mode == 0 and atten_mask.dtype == torch.bool
        assert atten_mask.shape in ((batch, 1, sq, skv), (1, 1, sq, skv))
        masked |= atten_mask
    scores = scores.masked_fill(masked, float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v), torch.zeros(1)


@pytest.fixture
def fake_torch_npu(monkeypatch):
    module = types.ModuleType("torch_npu")
    module.npu_fused_infer_attention_score = npu_fused_infer_attention_score_model
    monkeypatch.setitem(sys.modules, "torch_npu", module)


def ported(call, ruleset):
    source = (f"from flash_attn import flash_attn_with_kvcache\n\n"
              f"def attend(q, k_cache, v_cache, lengths, causal):\n    return {call}\n")
    new, findings = port_python(source, ruleset)
    assert new is not None and "flash_attn" not in new, [f.message for f in findings]
    assert "npu_fused_infer_attention_score" in new
    namespace = {}
    exec(compile(new, "<ported>", "exec"), namespace)  # noqa: S102 - the ported test snippet, not user code
    return namespace["attend"]


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


@pytest.mark.parametrize("call, kwargs", [
    ("flash_attn_with_kvcache(q, k_cache, v_cache)", {}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, causal=True)", {"causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, causal=causal)", {"causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, softmax_scale=0.3)", {"scale": 0.3}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths)", {"lengths": [6, 4]}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, causal=True)",
     {"lengths": [6, 4], "causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, None, None, None, None, lengths, causal=causal)",
     {"lengths": [8, 3], "causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, causal=causal)",
     {"lengths": [8, 3], "causal": False}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, causal=True)", {"lengths": 5, "causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=5, causal=True)", {"literal": 5, "causal": True}),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=5)", {"literal": 5}),
])
@pytest.mark.parametrize("sq, kv_heads", [(1, 4), (3, 2), (3, 1)])
def test_read_only_cache_matches_flash_attn(call, kwargs, sq, kv_heads, ruleset, fake_torch_npu):
    attend = ported(call, ruleset)
    q, k_cache, v_cache = rand(2, sq, 4, 8), rand(2, 8, kv_heads, 8), rand(2, 8, kv_heads, 8)
    lengths = kwargs.get("lengths")
    lengths = torch.tensor(lengths, dtype=torch.int32) if isinstance(lengths, list) else lengths
    causal = kwargs.get("causal", False)
    expected = reference_kvcache(q, k_cache, v_cache, kwargs.get("literal", lengths), kwargs.get("scale"), causal)
    torch.testing.assert_close(attend(q, k_cache, v_cache, lengths, causal), expected)


@pytest.mark.parametrize("call, words, status", [
    ("flash_attn_with_kvcache(q, k_cache, v_cache, k, v, cache_seqlens=n)", "in place", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, k=k_new, v=v_new)", "in place", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, rotary_cos=cos, rotary_sin=sin)", "npu_rotary_mul", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=n, cache_batch_idx=rows)", "cache_batch_idx", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=n, cache_leftpad=pad)", "kv_padding_size", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=n, block_table=table)", "block_size", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, return_softmax_lse=True)", "softmax_lse_flag", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, window_size=(64, 0))", "sparse_mode=4", "unsupported"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, softcap=30.0)", "soft-capping", "unsupported"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, alibi_slopes=slopes)", "pse", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, None, None, None, None, n, None)", "ambiguous", "review"),
    ("flash_attn_with_kvcache(q.float(), k_cache, v_cache)", "bind q and k_cache", "review"),
    ("flash_attn_with_kvcache(q, caches[0], caches[1])", "bind q and k_cache", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=n + 1, causal=True)", "bind it", "review"),
    ("flash_attn_with_kvcache(q, k_cache, v_cache, causal=cfg.causal())", "run time", "review"),
])
def test_a_cache_the_call_changes_or_cannot_read_is_reported(call, words, status, ruleset):
    new, findings = port_python(f"from flash_attn import flash_attn_with_kvcache\nout = {call}\n", ruleset)
    assert new is None
    (finding,) = [f for f in findings if f.rule_id == "PY411"]
    assert finding.status.value == status and words in finding.message and finding.replacement is None


def test_every_blocker_is_named_in_one_entry(ruleset):
    """Megatron-core's decode call passes new k/v and the rotary tables: the entry says both, not the first only."""
    call = "flash_attn_with_kvcache(q=q, k_cache=kc, v_cache=vc, k=k, v=v, rotary_cos=cos, rotary_sin=sin, softcap=5.0)"
    new, findings = port_python(f"from flash_attn import flash_attn_with_kvcache\nout = {call}\n", ruleset)
    (finding,) = [f for f in findings if f.rule_id == "PY411"]
    assert new is None and finding.status.value == "unsupported"  # soft-capping has no NPU form at all
    assert all(words in finding.message for words in ("`k=k`, `v=v`", "in place", "`rotary_cos=cos`, `rotary_sin=sin`",
                                                      "npu_rotary_mul", "soft-capping"))
