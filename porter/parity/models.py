"""Pure-torch models of the operators on both sides of a conversion, written from their documentation: torch_npu's
fused operators (torch-npu 2.13.0, `_op_plugin_docs.py`) and the CUDA-only library calls porter converts
(flash-attn's documented contract). A generated parity case runs a model where the real operator cannot run (no
NPU, no CUDA build of the library), so a CPU run checks porter's translation of the arguments; where the
operator exists, it runs. A model refuses (NotImplementedError) whatever it does not model."""

from __future__ import annotations

import importlib
import types

import torch

CAUSAL_MASK_SIZE = 2048  # sparse_mode 2 and 3 take this compressed lower-triangle mask


def npu_rms_norm(x: torch.Tensor, gamma: torch.Tensor, epsilon: float = 1e-6):
    """y = x * rsqrt(mean(x^2 over gamma's dimensions) + epsilon) * gamma, and rstd; fp16/bf16 computed in fp32."""
    dims = tuple(range(x.dim() - gamma.dim(), x.dim()))
    wide = x.to(torch.promote_types(x.dtype, torch.float32))
    rstd = torch.rsqrt(wide.pow(2).mean(dims, keepdim=True) + epsilon)
    return (wide * rstd * gamma.to(wide.dtype)).to(x.dtype), rstd


def npu_fusion_attention(query, key, value, head_num, input_layout, *, pse=None, atten_mask=None, scale=1.0,
                         keep_prob=1.0, sparse_mode=0, actual_seq_qlen=None, actual_seq_kvlen=None, **rest):
    """softmax(scale * q @ k^T, masked where atten_mask is True) @ v per head; K/V heads may be fewer (grouped);
    sparse_mode 2 is the top-left causal mask, 3 the bottom-right one. TND packs sequences of varying length
    along T, their ends given as running sums (actual_seq_qlen [2, 4] for two sequences of 2), each attended to
    on its own. Returns the operator's tuple, item 0 the attention output. Modelled: layout BSND, BNSD or TND,
    no pse, no dropout."""
    if rest or pse is not None or keep_prob != 1.0 or input_layout not in ("BSND", "BNSD", "TND"):
        raise NotImplementedError("modelled: BSND/BNSD/TND, no pse, keep_prob=1, no other options")
    if (input_layout == "TND") != (actual_seq_qlen is not None and actual_seq_kvlen is not None):
        raise ValueError("actual_seq_qlen and actual_seq_kvlen go with the TND layout, and only with it")
    if input_layout == "TND":
        return _per_sequence(query, key, value, actual_seq_qlen, actual_seq_kvlen, lambda q, k, v: npu_fusion_attention(
            q, k, v, head_num, "BSND", atten_mask=atten_mask, scale=scale, sparse_mode=sparse_mode)[0]), \
            None, None, None, 0, 0, 0
    if input_layout == "BSND":
        query, key, value = (t.transpose(1, 2) for t in (query, key, value))
    if query.shape[1] != head_num:
        raise ValueError(f"head_num {head_num} is not the query's {query.shape[1]} heads")
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    wide = torch.promote_types(query.dtype, torch.float32)
    scores = scale * (query.to(wide) @ key.to(wide).transpose(-2, -1))
    sq, sk = scores.shape[-2:]
    rows, cols = torch.arange(sq, device=query.device)[:, None], torch.arange(sk, device=query.device)[None, :]
    if sparse_mode in (2, 3):
        if atten_mask is None or tuple(atten_mask.shape) != (CAUSAL_MASK_SIZE, CAUSAL_MASK_SIZE):
            raise ValueError("sparse_mode 2 and 3 take the 2048x2048 compressed mask")
        scores = scores.masked_fill(cols > rows + (sk - sq if sparse_mode == 3 else 0), float("-inf"))
    elif atten_mask is not None:
        if sparse_mode != 0:
            raise NotImplementedError(f"sparse_mode {sparse_mode}")
        scores = scores.masked_fill(atten_mask.bool(), float("-inf"))
    out = (scores.softmax(-1).nan_to_num(0.0) @ value.to(wide)).to(query.dtype)
    out = out.transpose(1, 2) if input_layout == "BSND" else out
    return out, None, None, None, 0, 0, 0


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0,
                    alibi_slopes=None, deterministic=False, return_attn_probs=False):
    """flash-attn's contract on [batch, seq, heads, dim]: scale 1/sqrt(dim) by default, causal aligned to the
    bottom right, grouped K/V heads. Modelled: no dropout, window, softcap, alibi or returned probabilities."""
    if dropout_p or tuple(window_size) != (-1, -1) or softcap or alibi_slopes is not None or return_attn_probs:
        raise NotImplementedError("modelled: no dropout, window, softcap, alibi or probabilities")
    scale = q.shape[-1] ** -0.5 if softmax_scale is None else softmax_scale
    groups = q.shape[2] // k.shape[2]
    wide = torch.promote_types(q.dtype, torch.float32)
    k, v = (t.repeat_interleave(groups, dim=2).to(wide) for t in (k, v))
    scores = torch.einsum("bqhd,bkhd->bhqk", q.to(wide), k) * scale
    if causal:
        sq, sk = q.shape[1], k.shape[1]
        future = torch.arange(sk, device=q.device)[None, :] > torch.arange(sq, device=q.device)[:, None] + sk - sq
        scores = scores.masked_fill(future, float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1).nan_to_num(0.0), v).to(q.dtype)


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                           softmax_scale=None, causal=False, **options):
    """Sequences packed along the first dimension of [tokens, heads, dim], sequence i being tokens
    cu_seqlens[i]:cu_seqlens[i + 1]; each attended to on its own as by flash_attn_func (causal bottom-right
    aligned per sequence). max_seqlen_q/k bound the lengths."""
    lengths_q, lengths_k = (cu.diff() for cu in (cu_seqlens_q, cu_seqlens_k))
    if int(lengths_q.max()) > max_seqlen_q or int(lengths_k.max()) > max_seqlen_k:
        raise ValueError("a sequence is longer than max_seqlen_q/max_seqlen_k")
    return _per_sequence(q, k, v, cu_seqlens_q[1:].tolist(), cu_seqlens_k[1:].tolist(),
                         lambda *qkv: flash_attn_func(*qkv, dropout_p, softmax_scale, causal, **options))


def _per_sequence(q, k, v, ends_q: list[int], ends_k: list[int], attend):
    """`attend` on each packed sequence, as a batch of one ([1, seq, heads, dim]); ends: running sums of the
    lengths. The outputs packed again."""
    if len(ends_q) != len(ends_k) or ends_q[-1] != q.shape[0] or ends_k[-1] != k.shape[0]:
        raise ValueError(f"sequence ends {ends_q} / {ends_k} do not fill {q.shape[0]} / {k.shape[0]} tokens")
    outs = []
    for (q0, q1), (k0, k1) in zip(zip([0, *ends_q], ends_q), zip([0, *ends_k], ends_k)):
        outs.append(attend(q[None, q0:q1], k[None, k0:k1], v[None, k0:k1])[0])
    return torch.cat(outs)


def flash_attn_qkvpacked_func(qkv, dropout_p=0.0, softmax_scale=None, causal=False, **options):
    """qkv: [batch, seq, 3, heads, dim]."""
    return flash_attn_func(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], dropout_p, softmax_scale, causal, **options)


def flash_attn_kvpacked_func(q, kv, dropout_p=0.0, softmax_scale=None, causal=False, **options):
    """kv: [batch, seq, 2, heads, dim]."""
    return flash_attn_func(q, kv[:, :, 0], kv[:, :, 1], dropout_p, softmax_scale, causal, **options)


_MODELS = {
    "torch_npu": types.SimpleNamespace(npu_rms_norm=npu_rms_norm, npu_fusion_attention=npu_fusion_attention),
    "flash_attn": types.SimpleNamespace(flash_attn_func=flash_attn_func,
                                        flash_attn_qkvpacked_func=flash_attn_qkvpacked_func,
                                        flash_attn_kvpacked_func=flash_attn_kvpacked_func,
                                        flash_attn_varlen_func=flash_attn_varlen_func),
}
_DEVICE_OF = {"torch_npu": "npu", "flash_attn": "cuda"}


def library_for(tensor: torch.Tensor, library: str):
    """The library itself for a tensor on its device (torch_npu on an NPU, flash_attn on a GPU), else the
    models above under the same names."""
    if tensor.device.type == _DEVICE_OF[library]:
        return importlib.import_module(library)
    return _MODELS[library]
