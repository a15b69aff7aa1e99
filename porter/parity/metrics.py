"""Error statistics of a result against the high-precision benchmark, computed in fp64 on CPU."""

from __future__ import annotations

import torch

# Significand bits (with the implicit one) and the smallest normal exponent of each format.
PRECISION = {"fp64": 53, "fp32": 24, "fp16": 11, "bf16": 8}
MIN_EXPONENT = {"fp64": -1022, "fp32": -126, "fp16": -14, "bf16": -126}


def ulp(values: torch.Tensor, dtype: str) -> torch.Tensor:
    """The spacing of ``dtype``'s representable numbers at each |value| (fp64 tensor).

    For |x| in [2**e, 2**(e+1)) it is 2**(e - p + 1); below the smallest normal it is the
    subnormal spacing. Equal to numpy.spacing(|x|) for values representable in ``dtype``.
    """
    magnitude = values.double().abs()
    _, exponent = torch.frexp(magnitude)  # magnitude = m * 2**exponent, m in [0.5, 1)
    exponent = torch.where(magnitude == 0, MIN_EXPONENT[dtype] + 1, exponent)
    binade = torch.clamp(exponent - 1, min=MIN_EXPONENT[dtype])
    return torch.exp2((binade - PRECISION[dtype] + 1).double())


def nonfinite_mismatches(reference: torch.Tensor, target: torch.Tensor) -> int:
    """Positions where NaN, +Inf or -Inf appear on one side but not identically on the other."""
    if not reference.dtype.is_floating_point:
        return 0
    r, t = reference.double(), target.double()
    if bool(r.isfinite().all()) and bool(t.isfinite().all()):
        return 0
    differ = (r.isnan() != t.isnan()) | (r.isposinf() != t.isposinf()) | (r.isneginf() != t.isneginf())
    return int(differ.sum())


def mismatches(a: torch.Tensor, b: torch.Tensor) -> int:
    """Elements that are not identical (NaN equals NaN)."""
    if a.dtype.is_floating_point:
        equal = (a == b) | (a.isnan() & b.isnan())
    else:
        equal = a == b
    return int((~equal).sum())


def _scale(bench: torch.Tensor) -> float:
    rms = float(bench.square().mean().sqrt()) if bench.numel() else 0.0
    return rms if rms > 0 else 1.0


def relative_errors(result: torch.Tensor, bench: torch.Tensor, small: float, dtype: str = "fp64") -> torch.Tensor:
    """|result - bench| / max(|bench|, small * rms(bench), smallest normal of dtype), elementwise.

    Below the smallest normal a format loses relative precision (subnormals), so errors there are
    measured at that magnitude: one ULP never counts as more than one epsilon.
    """
    floor = max(small * _scale(bench), 2.0 ** MIN_EXPONENT[dtype])
    return (result - bench).abs() / bench.abs().clamp(min=floor)


def cosine(result: torch.Tensor, bench: torch.Tensor) -> float:
    norms = float(result.norm() * bench.norm())
    if norms == 0:
        return 1.0 if float(result.abs().sum() + bench.abs().sum()) == 0 else 0.0
    return float((result * bench).sum()) / norms


def compute(standard: str, result: torch.Tensor, bench: torch.Tensor, dtype: str, thresholds: dict) -> dict[str, float]:
    """The ``standard``'s metrics for finite elements (1-D fp64 tensors of equal length)."""
    if result.numel() == 0:
        return {"cosine": 1.0, "max_rel_err": 0.0, "mean_rel_err": 0.0, "rel_rmse": 0.0, "max_norm_err": 0.0,
                "ulp_mean": 0.0, "ulp_frac_over": 0.0}
    if standard == "matmul":
        floor = thresholds["small"] * _scale(bench)
        errors = (result - bench).abs() / ulp(bench.abs().clamp(min=floor), dtype)
        return {"ulp_mean": float(errors.mean()), "ulp_frac_over": float((errors > thresholds["ulp_over"]).double().mean())}
    rel = relative_errors(result, bench, thresholds["small"], dtype)
    error = result - bench
    metrics = {"max_rel_err": float(rel.max()), "mean_rel_err": float(rel.mean()),
               "rel_rmse": float(error.square().mean().sqrt()) / _scale(bench)}
    if standard == "reduction":
        metrics["max_norm_err"] = float(error.abs().max()) / _scale(bench)
        metrics["cosine"] = cosine(result, bench)
    return metrics
