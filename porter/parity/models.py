"""Pure-torch models of the operators on both sides of a conversion, written from their documentation: torch_npu's
fused operators (torch-npu 2.13.0, `_op_plugin_docs.py`) and the CUDA-only library calls porter converts
(flash-attn's documented contract, Apex's fused norms and optimizers). A generated parity case runs a model where
the real operator cannot run (no NPU, no CUDA build of the library), so a CPU run checks porter's translation of
the arguments; where the operator exists, it runs. A model refuses (NotImplementedError) whatever it does not model."""

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


def npu_swiglu(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """swish(A) * B = A * sigmoid(A) * B of the halves A, B of x along dim, computed in fp32 for fp16/bf16."""
    if x.shape[dim] % 2:
        raise ValueError(f"npu_swiglu splits dim {dim} in two halves: its size is {x.shape[dim]}")
    a, b = x.to(torch.promote_types(x.dtype, torch.float32)).split(x.shape[dim] // 2, dim)
    return (a * torch.sigmoid(a) * b).to(x.dtype)


# The dimensions of a 4-D input that r1 and r2 may broadcast over (size 1), per rotary_mode, over the layouts BNSD,
# BSND and SBND: 11SD, B1SD, BNSD; 1S1D, BS1D, BSND; S11D, SB1D, SBND ("interleave": 11SD, 1S1D, S11D)
_ROTARY_BROADCASTS = {"half": ({0, 1}, {1}, set(), {0, 2}, {2}, {1, 2}), "interleave": ({0, 1}, {0, 2}, {1, 2})}


def npu_rotary_mul(input: torch.Tensor, r1: torch.Tensor, r2: torch.Tensor, rotary_mode: str = "half",
                   rotate=None) -> torch.Tensor:
    """r1 * input + r2 * rotated(input); "half" rotates cat((-x2, x1), -1) of the last dimension's halves,
    "interleave" stack((-odd, even), -1) flattened back. Refuses (ValueError) the shapes the operator does not take:
    4-D tensors, an even last dimension below 896, r1 and r2 alike and of the broadcast shapes documented."""
    if rotate is not None or rotary_mode not in _ROTARY_BROADCASTS:
        raise NotImplementedError("modelled: rotary_mode half or interleave, no rotate matrix")
    if not _rotary_takes(input, r1, r2, rotary_mode):
        raise ValueError(f"npu_rotary_mul takes no input {tuple(input.shape)} with r1 {tuple(r1.shape)}, "
                         f"r2 {tuple(r2.shape)} in rotary_mode {rotary_mode!r}")
    if rotary_mode == "half":
        x1, x2 = torch.chunk(input, 2, -1)
        rotated = torch.cat((-x2, x1), dim=-1)
    else:
        rotated = torch.stack((-input[..., 1::2], input[..., ::2]), dim=-1).flatten(-2)
    return r1 * input + r2 * rotated


def _rotary_takes(input: torch.Tensor, r1: torch.Tensor, r2: torch.Tensor, rotary_mode: str) -> bool:
    if input.dim() != 4 or r1.dim() != 4 or r1.shape != r2.shape or input.shape[-1] % 2 or input.shape[-1] >= 896:
        return False
    if any(r1.shape[d] not in (1, input.shape[d]) for d in range(4)):
        return False
    return {d for d in range(4) if r1.shape[d] == 1 != input.shape[d]} in _ROTARY_BROADCASTS[rotary_mode]


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
        def attend(q, k, v):
            return npu_fusion_attention(q, k, v, head_num, "BSND", atten_mask=atten_mask, scale=scale,
                                        sparse_mode=sparse_mode)[0]

        return _per_sequence(query, key, value, actual_seq_qlen, actual_seq_kvlen, attend), None, None, None, 0, 0, 0
    if input_layout == "BSND":
        query, key, value = (t.transpose(1, 2) for t in (query, key, value))
    if query.shape[1] != head_num:
        raise ValueError(f"head_num {head_num} is not the query's {query.shape[1]} heads")
    sq, sk = query.shape[2], key.shape[2]
    masked = None
    if sparse_mode in (2, 3):
        if atten_mask is None or tuple(atten_mask.shape) != (CAUSAL_MASK_SIZE, CAUSAL_MASK_SIZE):
            raise ValueError("sparse_mode 2 and 3 take the 2048x2048 compressed mask")
        masked = _future(sq, sk, sk - sq if sparse_mode == 3 else 0, query.device)
    elif atten_mask is not None:
        if sparse_mode != 0:
            raise NotImplementedError(f"sparse_mode {sparse_mode}")
        masked = atten_mask.bool()
    out = _heads_first(query, key, value, scale, masked)
    out = out.transpose(1, 2) if input_layout == "BSND" else out
    return out, None, None, None, 0, 0, 0


def _heads_first(query, key, value, scale, masked):
    """softmax(scale * q @ k^T, -inf where `masked`) @ v on [batch, heads, seq, dim], K/V heads grouped, in at least
    fp32 (torch_npu's side of a case). A row with every key masked gives 0."""
    groups = query.shape[1] // key.shape[1]
    wide = torch.promote_types(query.dtype, torch.float32)
    key, value = (t.repeat_interleave(groups, dim=1).to(wide) for t in (key, value))
    scores = scale * (query.to(wide) @ key.transpose(-2, -1))
    if masked is not None:
        scores = scores.masked_fill(masked, float("-inf"))
    return (scores.softmax(-1).nan_to_num(0.0) @ value).to(query.dtype)


def _seq_first(q, k, v, scale, offset):
    """The same on [batch, seq, heads, dim] through einsum (the libraries' side of a case, computed another way),
    causal with query i seeing keys j <= i + offset (no mask: offset None)."""
    groups = q.shape[2] // k.shape[2]
    wide = torch.promote_types(q.dtype, torch.float32)
    k, v = (t.repeat_interleave(groups, dim=2).to(wide) for t in (k, v))
    scores = torch.einsum("bqhd,bkhd->bhqk", q.to(wide), k) * scale
    if offset is not None:
        scores = scores.masked_fill(_future(q.shape[1], k.shape[1], offset, q.device), float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1).nan_to_num(0.0), v).to(q.dtype)


def _future(sq: int, sk: int, offset, device) -> torch.Tensor:
    """[sq, sk], True where key j lies past query i + offset (an int, or a tensor that broadcasts: per batch)."""
    return torch.arange(sk, device=device)[None, :] > torch.arange(sq, device=device)[:, None] + offset


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0,
                    alibi_slopes=None, deterministic=False, return_attn_probs=False):
    """flash-attn's contract on [batch, seq, heads, dim]: scale 1/sqrt(dim) by default, causal aligned to the
    bottom right, grouped K/V heads. Modelled: no dropout, window, softcap, alibi or returned probabilities."""
    if dropout_p or tuple(window_size) != (-1, -1) or softcap or alibi_slopes is not None or return_attn_probs:
        raise NotImplementedError("modelled: no dropout, window, softcap, alibi or probabilities")
    scale = q.shape[-1] ** -0.5 if softmax_scale is None else softmax_scale
    return _seq_first(q, k, v, scale, k.shape[1] - q.shape[1] if causal else None)


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


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, rotary_cos=None, rotary_sin=None,
                            cache_seqlens=None, cache_batch_idx=None, cache_leftpad=None, block_table=None,
                            softmax_scale=None, causal=False, rotary_interleaved=True, num_splits=0,
                            return_softmax_lse=False, **options):
    """Attention of q [batch, seq_q, heads, dim] on a cache [batch, seq_cache, kv_heads, dim] that is only read:
    batch b attends to k_cache[b, :cache_seqlens[b]] (an int: every batch; None: the whole cache) as by
    flash_attn_func, causal aligned to the bottom right of that length. num_splits only splits the GPU's work,
    rotary_interleaved only matters with rotary_cos.
    Modelled: no appended k/v, rotary embedding, cache_batch_idx, left padding, paged cache or returned lse."""
    if any(t is not None for t in (k, v, rotary_cos, rotary_sin, cache_batch_idx, cache_leftpad, block_table)) \
            or return_softmax_lse:
        raise NotImplementedError("modelled: a cache that is only read, no rotary, gather, padding, paging or lse")
    if cache_seqlens is None or isinstance(cache_seqlens, int):
        cache_seqlens = torch.full((q.shape[0],), k_cache.shape[1] if cache_seqlens is None else cache_seqlens)
    lengths = cache_seqlens.tolist()
    if len(lengths) != q.shape[0] or max(lengths) > k_cache.shape[1]:
        raise ValueError(f"cache_seqlens {lengths}: not one length per batch within the {k_cache.shape[1]} positions")
    return torch.cat([flash_attn_func(q[b:b + 1], k_cache[b:b + 1, :n], v_cache[b:b + 1, :n], 0.0, softmax_scale,
                                      causal, **options) for b, n in enumerate(lengths)])


def npu_fused_infer_attention_score(query, key, value, *, atten_mask=None, actual_seq_lengths_kv=None, num_heads=1,
                                    scale=1.0, input_layout="BSH", num_key_value_heads=0, sparse_mode=0, **rest):
    """softmax(scale * q @ k^T, masked where atten_mask is True) @ v per head, batch b reading its first
    actual_seq_lengths_kv[b] keys (one value: every batch; None: all); num_key_value_heads (0: num_heads) K/V
    heads are grouped. atten_mask (sparse_mode 0) broadcasts as (B or 1, 1, S_q, S_kv); sparse_mode 2 is the
    top-left causal mask, 3 the bottom-right one against each batch's key length, each given the 2048x2048
    compressed mask. Returns
    (attention_out, softmax_lse), the latter a placeholder as without softmax_lse_flag. Modelled: BSND or BNSD,
    no pse_shift, quantisation, paging, padding, prefix or actual_seq_lengths."""
    if rest or input_layout not in ("BSND", "BNSD") or sparse_mode not in (0, 2, 3):
        raise NotImplementedError("modelled: BSND/BNSD, sparse_mode 0, 2 or 3, no other options")
    if input_layout == "BSND":
        query, key, value = (t.transpose(1, 2) for t in (query, key, value))
    if query.shape[1] != num_heads or key.shape[1] != (num_key_value_heads or num_heads):
        raise ValueError(f"num_heads {num_heads} / num_key_value_heads {num_key_value_heads} are not the inputs' "
                         f"{query.shape[1]} / {key.shape[1]} heads")
    (batch, _, sq, _), sk = query.shape, key.shape[2]
    lengths = torch.tensor(_per_batch(sk if actual_seq_lengths_kv is None else actual_seq_lengths_kv, batch),
                           device=query.device).reshape(-1, 1, 1, 1)
    masked = _future(1, sk, lengths - 1, query.device)  # keys past each batch's length
    if sparse_mode in (2, 3):
        if atten_mask is None or tuple(atten_mask.shape[-2:]) != (CAUSAL_MASK_SIZE, CAUSAL_MASK_SIZE):
            raise ValueError("sparse_mode 2 and 3 take the 2048x2048 compressed mask")
        masked = masked | _future(sq, sk, lengths - sq if sparse_mode == 3 else 0, query.device)
    elif atten_mask is not None:
        masked = masked | atten_mask.bool()
    out = _heads_first(query, key, value, scale, masked)
    return (out.transpose(1, 2) if input_layout == "BSND" else out), torch.zeros(1, device=query.device)


def _per_batch(lengths, batch: int) -> list[int]:
    """One key length per batch from actual_seq_lengths_kv: one length (every batch) or at least `batch` lengths
    (the first `batch`)."""
    lengths = torch.as_tensor(lengths).reshape(-1).tolist()
    if len(lengths) != 1 and len(lengths) < batch:
        raise ValueError(f"{len(lengths)} key lengths for a batch of {batch}")
    return lengths * batch if len(lengths) == 1 else lengths[:batch]


class LowerTriangularMask:
    """xFormers' causal mask aligned to the top left: query i sees keys j <= i."""


class LowerTriangularFromBottomRightMask:
    """xFormers' causal mask aligned to the bottom right: query i of M sees keys j <= i + N - M of N."""


def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, *, op=None,
                               output_dtype=None):
    """xFormers' attention on [batch, seq, heads, dim] with as many K/V heads as query heads: softmax(scale *
    q @ k^T + attn_bias) @ v, scale 1/sqrt(dim) by default; `op` only picks the kernel. Modelled: attn_bias None
    or one of the two causal masks above, no dropout, 3-D inputs or another output dtype."""
    if p or output_dtype is not None or query.dim() != 4:
        raise NotImplementedError("modelled: 4-D inputs, no dropout or output_dtype")
    if attn_bias is not None and type(attn_bias) not in (LowerTriangularMask, LowerTriangularFromBottomRightMask):
        raise NotImplementedError(f"modelled: attn_bias None or a lower triangular mask, not {type(attn_bias)}")
    if key.shape[2] != query.shape[2]:
        raise ValueError(f"{key.shape[2]} key heads for {query.shape[2]} query heads")
    scale = query.shape[-1] ** -0.5 if scale is None else scale
    offset = None
    if attn_bias is not None:
        bottom_right = isinstance(attn_bias, LowerTriangularFromBottomRightMask)
        offset = key.shape[1] - query.shape[1] if bottom_right else 0
    return _seq_first(query, key, value, scale, offset)


class _ApexNorm(torch.nn.Module):
    """Apex's fused norms: weight ones (and bias zeros) over normalized_shape when elementwise_affine; half
    precision inputs are normalised in fp32."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, memory_efficient=False):
        super().__init__()
        self.shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(self.shape)) if elementwise_affine else None

    def forward(self, x):
        dims = tuple(range(x.dim() - len(self.shape), x.dim()))
        wide = x.to(torch.promote_types(x.dtype, torch.float32))
        y = self.normalise(wide, dims)
        return (y if self.weight is None else self.affine(y)).to(x.dtype)


class FusedLayerNorm(_ApexNorm):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, memory_efficient=False):
        super().__init__(normalized_shape, eps, elementwise_affine, memory_efficient)
        self.bias = torch.nn.Parameter(torch.zeros(self.shape)) if elementwise_affine else None

    def normalise(self, x, dims):
        centred = x - x.mean(dims, keepdim=True)
        return centred * torch.rsqrt(centred.pow(2).mean(dims, keepdim=True) + self.eps)

    def affine(self, y):
        return y * self.weight.to(y.dtype) + self.bias.to(y.dtype)


class FusedRMSNorm(_ApexNorm):
    def normalise(self, x, dims):
        return x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + self.eps)

    def affine(self, y):
        return y * self.weight.to(y.dtype)


class FusedAdam(torch.optim.Optimizer):
    """Apex's Adam: adam_w_mode (the default) decays the weights decoupled from the gradient,
    p -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p); otherwise the decay is added to the gradient
    (L2). Modelled: bias correction on, no amsgrad, capturable or master weights."""

    def __init__(self, params, lr=1e-3, bias_correction=True, betas=(0.9, 0.999), eps=1e-8, adam_w_mode=True,
                 weight_decay=0.0, amsgrad=False, set_grad_none=True, capturable=False, master_weights=False):
        if not bias_correction or amsgrad or capturable or master_weights:
            raise NotImplementedError("modelled: bias correction, no amsgrad, capturable or master weights")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.adam_w_mode = adam_w_mode

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            (beta1, beta2), decay = group["betas"], group["weight_decay"]
            for p in (p for p in group["params"] if p.grad is not None):
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                grad = p.grad if self.adam_w_mode else p.grad + decay * p
                state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                m_hat, v_hat = state["m"] / (1 - beta1 ** state["step"]), state["v"] / (1 - beta2 ** state["step"])
                update = m_hat / (v_hat.sqrt() + group["eps"])
                p.sub_(group["lr"] * (update + decay * p if self.adam_w_mode else update))


class FusedSGD(torch.optim.Optimizer):
    """Apex's SGD: the decay added to the gradient before momentum; the first step's momentum buffer is the
    gradient itself; nesterov steps along grad + momentum * buffer. Modelled: wd_after_momentum off."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 wd_after_momentum=False, materialize_master_grads=True, set_grad_none=False):
        if wd_after_momentum:
            raise NotImplementedError("modelled: wd_after_momentum off")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in (p for p in group["params"] if p.grad is not None):
                grad = p.grad + group["weight_decay"] * p
                if momentum:
                    buffer = self.state[p].get("buffer")
                    if buffer is None:
                        buffer = self.state[p]["buffer"] = grad.clone()
                    else:
                        buffer.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
                    grad = grad + momentum * buffer if group["nesterov"] else buffer
                p.sub_(group["lr"] * grad)


def optimizer_steps(optimizer_of, weight: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """How far the optimizer `optimizer_of([param])` moves a copy of `weight` in one step per gradient in `grads`."""
    param = weight.detach().clone().requires_grad_(True)
    optimizer = optimizer_of([param])
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
    return param.detach() - weight


_MODELS = {
    "torch_npu": types.SimpleNamespace(npu_rms_norm=npu_rms_norm, npu_fusion_attention=npu_fusion_attention,
                                       npu_fused_infer_attention_score=npu_fused_infer_attention_score,
                                       npu_rotary_mul=npu_rotary_mul, npu_swiglu=npu_swiglu),
    "flash_attn": types.SimpleNamespace(flash_attn_func=flash_attn_func,
                                        flash_attn_qkvpacked_func=flash_attn_qkvpacked_func,
                                        flash_attn_kvpacked_func=flash_attn_kvpacked_func,
                                        flash_attn_varlen_func=flash_attn_varlen_func,
                                        flash_attn_with_kvcache=flash_attn_with_kvcache),
    "xformers.ops": types.SimpleNamespace(memory_efficient_attention=memory_efficient_attention,
                                          LowerTriangularMask=LowerTriangularMask,
                                          LowerTriangularFromBottomRightMask=LowerTriangularFromBottomRightMask),
    "apex.normalization": types.SimpleNamespace(FusedLayerNorm=FusedLayerNorm, FusedRMSNorm=FusedRMSNorm),
    "apex.optimizers": types.SimpleNamespace(FusedAdam=FusedAdam, FusedSGD=FusedSGD),
}
_DEVICE_OF = {"torch_npu": "npu", "flash_attn": "cuda", "xformers.ops": "cuda", "apex.normalization": "cuda",
              "apex.optimizers": "cuda"}


def library_for(tensor: torch.Tensor, library: str):
    """The library itself for a tensor on its device (torch_npu on an NPU, flash_attn on a GPU), else the
    models above under the same names."""
    if tensor.device.type == _DEVICE_OF[library]:
        return importlib.import_module(library)
    return _MODELS[library]
