"""Helpers shared by the parity tests."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "parity"

# Small sizes for every op kind, so a whole-catalog run stays fast.
SMALL_DIMS = {
    "matmul": {"m": 16, "k": 64, "n": 32}, "linear": {"batch": 2, "seq": 8, "in_features": 64, "out_features": 48},
    "bmm": {"batch": 2, "m": 16, "k": 32, "n": 8}, "einsum": {"b": 2, "h": 2, "q": 8, "k": 8, "d": 16},
    "conv1d": {"batch": 2, "in_channels": 8, "out_channels": 8, "length": 16},
    "conv2d": {"batch": 2, "in_channels": 4, "out_channels": 8, "height": 8, "width": 8},
    "sdpa": {"batch": 1, "heads": 2, "seq": 16, "head_dim": 16},
    "npu_fusion_attention": {"batch": 1, "heads": 2, "seq": 16, "head_dim": 16},
    "layer_norm": {"batch": 2, "seq": 8, "hidden": 64}, "rms_norm": {"batch": 2, "seq": 8, "hidden": 64},
    "softmax": {"batch": 2, "rows": 16, "cols": 32}, "log_softmax": {"batch": 2, "rows": 16, "cols": 32},
    "gelu": {"batch": 2, "seq": 8, "hidden": 64}, "silu": {"batch": 2, "seq": 8, "hidden": 64},
    "swiglu": {"batch": 2, "seq": 8, "hidden": 32},
    "embedding": {"batch": 2, "seq": 8, "num_embeddings": 64, "embedding_dim": 32},
    "cross_entropy": {"rows": 16, "classes": 100}, "topk": {"rows": 8, "cols": 64},
    "adamw": {"numel": 256}, "adam": {"numel": 256}, "sgd": {"numel": 256},
    "all_reduce": {"numel": 64}, "reduce_scatter": {"numel": 64}, "all_gather": {"numel": 64},
    "broadcast": {"numel": 64},
}


def small_case(op: str, dtype: str = "fp32", **extra) -> dict:
    from porter.parity import catalog

    return {"name": f"{op}_{dtype}", "op": op, "dtype": dtype,
            "inputs": catalog.build_inputs(op, SMALL_DIMS[op]), **extra}


def write_suite(directory: Path, cases: list[dict], modules: list[str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "parity.yaml").write_text(yaml.safe_dump({"version": 1, "modules": modules or [], "cases": cases}))
    return directory
