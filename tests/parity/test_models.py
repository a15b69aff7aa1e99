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
