"""The operator models generated cases run where the real operator cannot: each against torch's own functions."""

import pytest
import torch
import torch.nn.functional as F

from porter.parity import models


def _rand(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float64)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_flash_attn_and_npu_fusion_attention_models_match_sdpa(causal, kv_heads):
    q, k, v = _rand(2, 6, 4, 8), _rand(2, 6, kv_heads, 8), _rand(2, 6, kv_heads, 8)  # [batch, seq, heads, dim]
    groups = 4 // kv_heads
    expected = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2).repeat_interleave(groups, 1),
                                              v.transpose(1, 2).repeat_interleave(groups, 1), is_causal=causal,
                                              scale=0.3).transpose(1, 2)
    torch.testing.assert_close(models.flash_attn_func(q, k, v, softmax_scale=0.3, causal=causal), expected)
    mask = torch.ones(2048, 2048, dtype=torch.bool).triu(1) if causal else None
    npu = models.npu_fusion_attention(q, k, v, 4, "BSND", scale=0.3, atten_mask=mask, sparse_mode=3 if causal else 0)
    torch.testing.assert_close(npu[0], expected)


def test_causal_alignment_differs_when_queries_are_fewer_than_keys():
    """flash-attn aligns causal masks to the bottom right (sparse_mode 3), SDPA to the top left (sparse_mode 2)."""
    q, k, v = _rand(1, 3, 2, 8), _rand(1, 5, 2, 8), _rand(1, 5, 2, 8)
    mask = torch.ones(2048, 2048, dtype=torch.bool).triu(1)
    flash = models.flash_attn_func(q, k, v, causal=True)
    bottom_right = models.npu_fusion_attention(q, k, v, 2, "BSND", scale=8 ** -0.5, atten_mask=mask, sparse_mode=3)[0]
    top_left = models.npu_fusion_attention(q, k, v, 2, "BSND", scale=8 ** -0.5, atten_mask=mask, sparse_mode=2)[0]
    torch.testing.assert_close(flash, bottom_right)
    assert not torch.allclose(flash, top_left)


def test_rms_norm_model_matches_torch():
    x, weight = _rand(3, 16), _rand(16)
    y, _ = models.npu_rms_norm(x, weight, epsilon=1e-5)
    torch.testing.assert_close(y, F.rms_norm(x, (16,), weight, eps=1e-5))


def test_what_a_model_does_not_model_it_refuses():
    q = _rand(1, 2, 1, 4)
    with pytest.raises(NotImplementedError):
        models.flash_attn_func(q, q, q, dropout_p=0.1)
    with pytest.raises(NotImplementedError):
        models.npu_fusion_attention(q, q, q, 1, "BSH")
    with pytest.raises(ValueError):
        models.npu_fusion_attention(q[0], q[0], q[0], 1, "TND")  # TND without the sequence ends


def test_the_real_library_is_taken_on_its_own_device_only():
    assert models.library_for(torch.zeros(1), "torch_npu").npu_rms_norm is models.npu_rms_norm
    assert models.library_for(torch.zeros(1), "flash_attn").flash_attn_func is models.flash_attn_func


def test_the_packed_models_unpack_as_documented():
    q, k, v = _rand(2, 5, 4, 8), _rand(2, 5, 4, 8), _rand(2, 5, 4, 8)
    expected = models.flash_attn_func(q, k, v, causal=True)
    torch.testing.assert_close(models.flash_attn_qkvpacked_func(torch.stack([q, k, v], dim=2), causal=True), expected)
    torch.testing.assert_close(models.flash_attn_kvpacked_func(q, torch.stack([k, v], dim=2), causal=True), expected)


@pytest.mark.parametrize("causal", [False, True])
def test_varlen_models_attend_within_each_sequence_as_sdpa_does(causal):
    """Three sequences with more keys than queries each: flash-attn's varlen call and the TND operator both
    attend within a sequence, causal masks aligned to its bottom right (SDPA's explicit mask here)."""
    cu_q, cu_k = torch.tensor([0, 2, 5, 9]), torch.tensor([0, 3, 8, 12])
    q, k, v = _rand(9, 2, 8), _rand(12, 2, 8), _rand(12, 2, 8)
    expected = []
    for (q0, q1), (k0, k1) in zip(zip(cu_q, cu_q[1:]), zip(cu_k, cu_k[1:])):
        sq, sk = int(q1 - q0), int(k1 - k0)
        keep = torch.ones(sq, sk, dtype=torch.bool).tril(sk - sq) if causal else None
        bhsd = [t[a:b].transpose(0, 1)[None] for t, a, b in ((q, q0, q1), (k, k0, k1), (v, k0, k1))]
        expected.append(F.scaled_dot_product_attention(*bhsd, attn_mask=keep, scale=0.3)[0].transpose(0, 1))
    expected = torch.cat(expected)
    flash = models.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 4, 5, softmax_scale=0.3, causal=causal)
    torch.testing.assert_close(flash, expected)
    mask = torch.ones(2048, 2048, dtype=torch.bool).triu(1) if causal else None
    npu = models.npu_fusion_attention(q, k, v, 2, "TND", scale=0.3, atten_mask=mask, sparse_mode=3 if causal else 0,
                                      actual_seq_qlen=cu_q[1:].tolist(), actual_seq_kvlen=cu_k[1:].tolist())[0]
    torch.testing.assert_close(npu, expected)
    with pytest.raises(ValueError):  # ends that do not fill the tokens
        models.npu_fusion_attention(q, k, v, 2, "TND", scale=0.3, actual_seq_qlen=cu_q[:-1].tolist(),
                                    actual_seq_kvlen=cu_k[:-1].tolist())
    with pytest.raises(ValueError):
        models.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 3, 5)  # a sequence of 4 queries over max_seqlen_q


def _steps(optimizer_of):
    weight, grads = _rand(6, 5).abs() + 0.1, _rand(4, 6, 5)
    return models.optimizer_steps(optimizer_of, weight, grads)


@pytest.mark.parametrize("decoupled", [True, False])
def test_apex_adam_model_is_torch_adamw_or_adam(decoupled):
    """adam_w_mode=True decays like AdamW, False adds the decay to the gradient like Adam; both differ."""
    apex = _steps(lambda p: models.FusedAdam(p, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.3,
                                             adam_w_mode=decoupled))
    twin = torch.optim.AdamW if decoupled else torch.optim.Adam
    other = torch.optim.Adam if decoupled else torch.optim.AdamW
    kwargs = {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.3}
    torch.testing.assert_close(apex, _steps(lambda p: twin(p, **kwargs)))
    assert not torch.allclose(apex, _steps(lambda p: other(p, **kwargs)))


@pytest.mark.parametrize("nesterov", [True, False])
def test_apex_sgd_model_is_torch_sgd(nesterov):
    apex = _steps(lambda p: models.FusedSGD(p, 0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov))
    torch.testing.assert_close(apex, _steps(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01,
                                                                      nesterov=nesterov)))
    with pytest.raises(NotImplementedError):
        models.FusedSGD([torch.zeros(1, requires_grad=True)], 0.1, wd_after_momentum=True)


def test_apex_norm_models_match_torch():
    x = _rand(3, 4, 16) * 0.01
    norm = models.FusedLayerNorm((4, 16), eps=1e-6).double()
    torch.testing.assert_close(norm(x), F.layer_norm(x, (4, 16), eps=1e-6))
    torch.testing.assert_close(models.FusedRMSNorm(16).double()(x), F.rms_norm(x, (16,), eps=1e-5))
    assert models.FusedRMSNorm(16, elementwise_affine=False).weight is None


def _sdpa_bshd(q, k, v, keep, scale):
    """SDPA on [batch, seq, heads, dim] with an explicit boolean mask (True: attended); K/V heads repeated."""
    groups = q.shape[2] // k.shape[2]
    k, v = (t.repeat_interleave(groups, dim=2) for t in (k, v))
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=keep,
                                         scale=scale)
    return out.transpose(1, 2)


@pytest.mark.parametrize("bias, diagonal, sparse_mode", [(None, None, 0), ("LowerTriangularMask", 0, 2),
                                                         ("LowerTriangularFromBottomRightMask", 2, 3)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_xformers_model_matches_sdpa_and_its_npu_translation(bias, diagonal, sparse_mode, scale):
    """3 queries on 5 keys: LowerTriangularMask keeps keys j <= i, the bottom-right one j <= i + 2; the scale
    defaults to 1/sqrt(dim). npu_fusion_attention's sparse_mode 2 and 3 are the same masks."""
    q, k, v = _rand(2, 3, 4, 8), _rand(2, 5, 4, 8), _rand(2, 5, 4, 8)
    keep = None if bias is None else torch.ones(3, 5, dtype=torch.bool).tril(diagonal)
    expected = _sdpa_bshd(q, k, v, keep, 8 ** -0.5 if scale is None else scale)
    mask = None if bias is None else getattr(models, bias)()
    torch.testing.assert_close(models.memory_efficient_attention(q, k, v, attn_bias=mask, scale=scale), expected)
    compressed = None if bias is None else torch.ones(2048, 2048, dtype=torch.bool).triu(1)
    npu = models.npu_fusion_attention(q, k, v, 4, "BSND", scale=8 ** -0.5 if scale is None else scale,
                                      atten_mask=compressed, sparse_mode=sparse_mode)[0]
    torch.testing.assert_close(npu, expected)


def test_xformers_masks_differ_when_queries_are_fewer_than_keys_and_the_model_refuses_the_rest():
    q, k = _rand(1, 3, 2, 8), _rand(1, 5, 2, 8)
    top_left = models.memory_efficient_attention(q, k, k, attn_bias=models.LowerTriangularMask())
    assert not torch.allclose(top_left, models.memory_efficient_attention(
        q, k, k, attn_bias=models.LowerTriangularFromBottomRightMask()))
    with pytest.raises(NotImplementedError):
        models.memory_efficient_attention(q, k, k, attn_bias=torch.zeros(3, 5))  # a bias tensor
    with pytest.raises(NotImplementedError):
        models.memory_efficient_attention(q, k, k, p=0.1)
    with pytest.raises(ValueError):
        models.memory_efficient_attention(q, k[:, :, :1], k[:, :, :1])  # fewer K/V heads: not xFormers' 4-D form
    assert models.library_for(q, "xformers.ops").LowerTriangularMask is models.LowerTriangularMask


def _decode_reference(q, k_cache, v_cache, lengths, causal, scale):
    """Batch b: the query's rows attend to the first lengths[b] cache positions, row i (of seq_q) to
    j <= lengths[b] - seq_q + i when causal; written out one batch at a time."""
    outs = []
    for b, n in enumerate(lengths):
        keep = torch.ones(q.shape[1], n, dtype=torch.bool).tril(n - q.shape[1]) if causal else None
        outs.append(_sdpa_bshd(q[b:b + 1], k_cache[b:b + 1, :n], v_cache[b:b + 1, :n], keep, scale))
    return torch.cat(outs)


@pytest.mark.parametrize("causal", [False, True])
def test_kvcache_models_read_each_batch_up_to_its_length(causal):
    """3 new queries of 4 heads on a cache of 7 positions with 2 K/V heads, filled to 5 and 4: flash-attn's
    decode call and the inference operator with the arguments porter writes (actual_seq_lengths_kv, and for
    causal the (batch, 1, seq_q, seq_cache) mask, True where masked) both match the reference."""
    q, k_cache, v_cache = _rand(2, 3, 4, 8), _rand(2, 7, 2, 8), _rand(2, 7, 2, 8)
    lengths = torch.tensor([5, 4], dtype=torch.int32)
    expected = _decode_reference(q, k_cache, v_cache, [5, 4], causal, 0.3)
    flash = models.flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, softmax_scale=0.3,
                                           causal=causal)
    torch.testing.assert_close(flash, expected)
    rows, cols = torch.arange(3)[:, None], torch.arange(7)[None, :]
    mask = cols >= lengths.reshape(-1, 1, 1, 1) + rows + 1 - 3 if causal else None
    npu = models.npu_fused_infer_attention_score(q, k_cache, v_cache, num_heads=4, num_key_value_heads=2,
                                                 input_layout="BSND", scale=0.3, actual_seq_lengths_kv=[5, 4],
                                                 atten_mask=mask)[0]
    torch.testing.assert_close(npu, expected)
    whole = models.npu_fused_infer_attention_score(q, k_cache, v_cache, num_heads=4, num_key_value_heads=2,
                                                   input_layout="BSND", scale=0.3)[0]
    assert not torch.allclose(whole, expected)  # without the lengths the whole cache is read


def test_kvcache_models_on_the_whole_cache_align_causal_to_its_end():
    """Without cache_seqlens flash-attn reads the whole cache; the operator's sparse_mode 3 is the same mask, its
    sparse_mode 2 (top-left) is not."""
    q, k_cache, v_cache = _rand(2, 3, 4, 8), _rand(2, 7, 4, 8), _rand(2, 7, 4, 8)
    expected = _decode_reference(q, k_cache, v_cache, [7, 7], True, 8 ** -0.5)
    torch.testing.assert_close(models.flash_attn_with_kvcache(q, k_cache, v_cache, causal=True), expected)
    torch.testing.assert_close(models.flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=7, causal=True),
                               expected)
    npu = models.npu_fused_infer_attention_score(q, k_cache, v_cache, num_heads=4, input_layout="BSND",
                                                 scale=8 ** -0.5, sparse_mode=3,
                                                 atten_mask=torch.ones(2048, 2048, dtype=torch.bool).triu(1))[0]
    torch.testing.assert_close(npu, expected)
    top_left = models.npu_fused_infer_attention_score(q, k_cache, v_cache, num_heads=4, input_layout="BSND",
                                                      scale=8 ** -0.5, sparse_mode=2,
                                                      atten_mask=torch.ones(2048, 2048, dtype=torch.bool).triu(1))[0]
    keep_top_left = torch.ones(3, 7, dtype=torch.bool).tril()
    torch.testing.assert_close(top_left, _sdpa_bshd(q, k_cache, v_cache, keep_top_left, 8 ** -0.5))


def test_kvcache_models_refuse_what_they_do_not_model():
    q, cache = _rand(2, 1, 2, 8), _rand(2, 4, 2, 8)
    with pytest.raises(NotImplementedError):
        models.flash_attn_with_kvcache(q, cache, cache, k=q, v=q)  # appends to the cache
    with pytest.raises(ValueError):
        models.flash_attn_with_kvcache(q, cache, cache, cache_seqlens=torch.tensor([5, 1]))  # past the cache
    with pytest.raises(ValueError):
        models.npu_fused_infer_attention_score(q, cache, cache, num_heads=2, num_key_value_heads=1,
                                               input_layout="BSND")
    with pytest.raises(NotImplementedError):
        models.npu_fused_infer_attention_score(q, cache, cache, num_heads=2, input_layout="BSND", pse_shift=q)
    with pytest.raises(ValueError):  # sparse_mode 3 without the compressed mask
        models.npu_fused_infer_attention_score(q, cache, cache, num_heads=2, input_layout="BSND", sparse_mode=3)
    with pytest.raises(ValueError):  # two lengths for a batch of three
        models.npu_fused_infer_attention_score(_rand(3, 1, 2, 8), _rand(3, 4, 2, 8), _rand(3, 4, 2, 8), num_heads=2,
                                               input_layout="BSND", actual_seq_lengths_kv=[2, 3])
