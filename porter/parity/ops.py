"""How each op kind runs: a forward function from named input tensors and parameters to outputs.

``device`` is the device type the tensors live on; where torch_npu offers a fused replacement
(attention, RMS norm, SwiGLU) the NPU runs it, every other device runs the PyTorch op.
"""

from __future__ import annotations

import importlib
from typing import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[dict, dict, str], dict]


def _matmul(x, p, device):
    return {"out": torch.matmul(x["a"], x["b"])}


def _linear(x, p, device):
    return {"out": F.linear(x["x"], x["weight"], x.get("bias"))}


def _bmm(x, p, device):
    return {"out": torch.bmm(x["a"], x["b"])}


def _einsum(x, p, device):
    return {"out": torch.einsum(p["equation"], *(x[k] for k in sorted(x)))}


def _conv(fn):
    def run(x, p, device):
        return {"out": fn(x["x"], x["weight"], x.get("bias"), stride=p.get("stride", 1),
                          padding=p.get("padding", 0), dilation=p.get("dilation", 1), groups=p.get("groups", 1))}

    return run


def _to_bnsd(t, layout):
    return t.transpose(1, 2) if layout == "BSND" else t


def _sdpa(x, p, device):
    layout = p.get("layout", "BNSD")
    q, k, v = (_to_bnsd(x[n], layout) for n in ("q", "k", "v"))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=p.get("is_causal", False), scale=p.get("scale"))
    return {"out": _to_bnsd(out, layout)}


def _npu_fusion_attention(x, p, device):
    if device != "npu":
        return _sdpa(x, p, device)
    import torch_npu

    q, k, v = x["q"], x["k"], x["v"]
    layout = p.get("layout", "BNSD")
    heads = q.shape[1] if layout == "BNSD" else q.shape[2]
    seq_q, seq_k = (q.shape[2], k.shape[2]) if layout == "BNSD" else (q.shape[1], k.shape[1])
    mask = None
    if p.get("is_causal", False):
        # True marks a position that is not attended.
        mask = torch.ones(seq_q, seq_k, dtype=torch.bool, device=q.device).triu(diagonal=1)
    scale = p.get("scale") or q.shape[-1] ** -0.5
    out = torch_npu.npu_fusion_attention(q, k, v, heads, layout, atten_mask=mask, scale=scale, keep_prob=1.0)[0]
    return {"out": out}


def _layer_norm(x, p, device):
    return {"out": F.layer_norm(x["x"], x["x"].shape[-1:], x["weight"], x.get("bias"), p.get("eps", 1e-5))}


def _rms_norm(x, p, device):
    if device == "npu":
        import torch_npu

        return {"out": torch_npu.npu_rms_norm(x["x"], x["weight"], epsilon=p.get("eps", 1e-6))[0]}
    return {"out": F.rms_norm(x["x"], x["x"].shape[-1:], x["weight"], p.get("eps", 1e-6))}


def _softmax(x, p, device):
    return {"out": torch.softmax(x["x"], dim=p.get("dim", -1))}


def _log_softmax(x, p, device):
    return {"out": torch.log_softmax(x["x"], dim=p.get("dim", -1))}


def _gelu(x, p, device):
    return {"out": F.gelu(x["x"], approximate=p.get("approximate", "none"))}


def _silu(x, p, device):
    return {"out": F.silu(x["x"])}


def _swiglu(x, p, device):
    if device == "npu":
        import torch_npu

        return {"out": torch_npu.npu_swiglu(x["x"], dim=-1)}
    gate, up = x["x"].chunk(2, dim=-1)
    return {"out": F.silu(gate) * up}


def _embedding(x, p, device):
    return {"out": F.embedding(x["ids"], x["weight"], padding_idx=p.get("padding_idx"))}


def _cross_entropy(x, p, device):
    return {"out": F.cross_entropy(x["logits"], x["target"], ignore_index=p.get("ignore_index", -100),
                                   label_smoothing=p.get("label_smoothing", 0.0))}


def _topk(x, p, device):
    values, indices = torch.topk(x["x"], p.get("k", 1), dim=p.get("dim", -1))
    return {"values": values, "indices": indices}


def _optimizer(x, p, device, high_precision: bool = False):
    """Two steps of the optimizer on one parameter; the states after them are outputs too."""
    name = p["op"]
    param = x["param"].detach().clone().requires_grad_(True)
    impl = "for_loop" if high_precision else p.get("impl", "fused")
    flags = {"fused": impl == "fused", "foreach": impl == "foreach"}
    if name == "sgd":
        opt = torch.optim.SGD([param], lr=p["lr"], momentum=p["momentum"], weight_decay=p["weight_decay"], **flags)
    else:
        cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
        opt = cls([param], lr=p["lr"], betas=tuple(p["betas"]), eps=p["eps"], weight_decay=p["weight_decay"], **flags)
    for grad in (x["grad0"], x["grad1"]):
        param.grad = grad.clone()
        opt.step()
    state = opt.state[param]
    outputs = {"param": param.detach()}
    for key in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
        if key in state:
            outputs[key] = state[key]
    return outputs


def _custom(role: str):
    def run(x, p, device):
        path = p["callables"][role]
        result = resolve_callable(path)(**x, **p["kwargs"])
        if isinstance(result, torch.Tensor):
            return {"out": result}
        if isinstance(result, dict):
            return dict(result)
        if isinstance(result, (tuple, list)):
            return {f"out{i}": t for i, t in enumerate(result)}
        raise TypeError(f"{path} returned {type(result).__name__}; return a tensor, a tuple or a dict of tensors")

    return run


def resolve_callable(path: str) -> Callable:
    module_name, sep, qualname = path.partition(":")
    if not sep:
        raise ValueError(f"{path!r} is not 'module:function'")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


FORWARDS: dict[str, Forward] = {
    "matmul": _matmul, "linear": _linear, "bmm": _bmm, "einsum": _einsum,
    "conv1d": _conv(F.conv1d), "conv2d": _conv(F.conv2d),
    "sdpa": _sdpa, "npu_fusion_attention": _npu_fusion_attention,
    "layer_norm": _layer_norm, "rms_norm": _rms_norm, "softmax": _softmax, "log_softmax": _log_softmax,
    "gelu": _gelu, "silu": _silu, "swiglu": _swiglu, "embedding": _embedding,
    "cross_entropy": _cross_entropy, "topk": _topk,
}


def forward_for(op: str, role: str) -> Forward:
    """``role``: reference (record), target (compare) or benchmark (CPU high precision)."""
    if op == "custom":
        return _custom({"reference": "original", "target": "ported", "benchmark": "benchmark"}[role])
    if op in ("adamw", "adam", "sgd"):
        return lambda x, p, device: _optimizer(x, {**p, "op": op}, device, high_precision=role == "benchmark")
    return FORWARDS[op]
