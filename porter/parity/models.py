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
                         keep_prob=1.0, sparse_mode=0, **rest):
    """softmax(scale * q @ k^T, masked where atten_mask is True) @ v per head; K/V heads may be fewer (grouped);
    sparse_mode 2 is the top-left causal mask, 3 the bottom-right one. Returns the operator's tuple, item 0 the
    attention output. Modelled: layout BSND or BNSD, no pse, no dropout."""
    if rest or pse is not None or keep_prob != 1.0 or input_layout not in ("BSND", "BNSD"):
        raise NotImplementedError("modelled: BSND/BNSD, no pse, keep_prob=1, no other options")
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
                                        flash_attn_kvpacked_func=flash_attn_kvpacked_func),
}
_DEVICE_OF = {"torch_npu": "npu", "flash_attn": "cuda"}


def library_for(tensor: torch.Tensor, library: str):
    """The library itself for a tensor on its device (torch_npu on an NPU, flash_attn on a GPU), else the
    models above under the same names."""
    if tensor.device.type == _DEVICE_OF[library]:
        return importlib.import_module(library)
    return _MODELS[library]
