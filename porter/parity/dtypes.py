"""Dtype names shared by the runner, the judge and the golden files (torch only, nothing else)."""

from __future__ import annotations

import torch

TORCH_DTYPES = {
    "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64,
    "int64": torch.int64, "int32": torch.int32, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in TORCH_DTYPES.items()}


def dtype_name(dtype: torch.dtype) -> str:
    return DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def benchmark_dtype(case_dtype: str) -> torch.dtype:
    """The yardstick's precision: fp16/bf16 run in fp32, fp32 (and fp64) in fp64."""
    return torch.float32 if case_dtype in ("fp16", "bf16") else torch.float64
