"""Pure-torch models of torch_npu's fused operators, written from their documentation (torch-npu 2.13.0,
`_op_plugin_docs.py`): what a generated case runs in place of the operator where there is no NPU, so that a CPU run
checks porter's translation of the arguments; on an NPU the real operator runs."""

from __future__ import annotations

import types

import torch


def npu_rms_norm(x: torch.Tensor, gamma: torch.Tensor, epsilon: float = 1e-6):
    """y = x * rsqrt(mean(x^2 over gamma's dimensions) + epsilon) * gamma, and rstd; fp16/bf16 computed in fp32."""
    dims = tuple(range(x.dim() - gamma.dim(), x.dim()))
    wide = x.to(torch.promote_types(x.dtype, torch.float32))
    rstd = torch.rsqrt(wide.pow(2).mean(dims, keepdim=True) + epsilon)
    return (wide * rstd * gamma.to(wide.dtype)).to(x.dtype), rstd


MODELS = types.SimpleNamespace(npu_rms_norm=npu_rms_norm)


def torch_npu_for(tensor: torch.Tensor):
    """torch_npu itself for a tensor on an NPU, else the models above under the same names."""
    if tensor.device.type == "npu":
        import torch_npu

        return torch_npu
    return MODELS
