"""The op kinds a case can name: their inputs (built from named sizes), defaults and standards.

Data only, no torch: the suite generator and the YAML loader use it; ``ops.py`` holds the code
that runs each kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# Sizes used when the source gives no constant: a mid-sized transformer, kept small on the
# token axes so a suite records in seconds on a CPU.
TOKENS = {"batch": 2, "seq": 128}


@dataclass(frozen=True)
class OpKind:
    name: str
    family: str  # tensor | optimizer | collective | custom
    output_standard: str
    grad_standard: str | None  # None: no backward
    dims: dict  # default named sizes
    build_inputs: Callable[[dict], dict]  # dims -> {input name: spec}
    params: dict = field(default_factory=dict)  # default keyword parameters
    standards: dict = field(default_factory=dict)  # per-tensor exceptions, e.g. {"grad.bias": "reduction"}
    # Sizes that are summed over: the generator keeps them as found and shrinks the others.
    reduction_dims: tuple[str, ...] = ()


def _ids(shape: list[int], high: int) -> dict:
    return {"shape": shape, "dtype": "int64", "low": 0, "high": high}


def _einsum_inputs(dims: dict) -> dict:
    operands = dims["equation"].split("->")[0].split(",")
    names = "abcdefgh"
    return {names[i]: [dims.get(letter, 16) for letter in op if not letter.isspace()] for i, op in enumerate(operands)}


def _x(d: dict, last: str) -> list[int]:
    return [d["batch"], d["seq"], d[last]]


def _linear(d: dict) -> dict:
    inputs = {"x": _x(d, "in_features"), "weight": [d["out_features"], d["in_features"]]}
    if d.get("bias", True):
        inputs["bias"] = [d["out_features"]]
    return inputs


def _conv(spatial: tuple[str, ...]) -> Callable[[dict], dict]:
    def build(d: dict) -> dict:
        inputs = {
            "x": [d["batch"], d["in_channels"], *(max(d[s], _conv_reach(d)) for s in spatial)],
            "weight": [d["out_channels"], d["in_channels"] // d.get("groups", 1), *([d["kernel_size"]] * len(spatial))],
        }
        if d.get("bias", True):
            inputs["bias"] = [d["out_channels"]]
        return inputs

    return build


def _conv_reach(d: dict) -> int:
    """The smallest input extent the (dilated, padded) kernel fits in: a kernel wider than the default image
    would make a case that cannot run."""
    padding = d.get("padding", 0)
    if padding == "same":
        return 1
    padding = padding if isinstance(padding, int) else 0  # "valid"
    return max(1, d.get("dilation", 1) * (d["kernel_size"] - 1) + 1 - 2 * padding)


def _attention(d: dict) -> dict:
    shape = [d["batch"], d["heads"], d["seq"], d["head_dim"]]
    return {"q": shape, "k": shape, "v": shape}


def _norm(bias: bool) -> Callable[[dict], dict]:
    def build(d: dict) -> dict:
        inputs = {"x": _x(d, "hidden"), "weight": {"shape": [d["hidden"]], "mean": 1.0, "std": 0.1}}
        if bias:
            inputs["bias"] = {"shape": [d["hidden"]], "std": 0.1}
        return inputs

    return build


def _optimizer(d: dict) -> dict:
    return {"param": [d["numel"]], "grad0": [d["numel"]], "grad1": [d["numel"]]}


ATTENTION_DIMS = {**TOKENS, "heads": 16, "head_dim": 64}
HIDDEN_DIMS = {**TOKENS, "hidden": 1024}

_KINDS = [
    OpKind("matmul", "tensor", "matmul", "matmul", {"m": 256, "k": 1024, "n": 512},
           lambda d: {"a": [d["m"], d["k"]], "b": [d["k"], d["n"]]}, reduction_dims=("k",)),
    OpKind("linear", "tensor", "matmul", "matmul", {**TOKENS, "in_features": 1024, "out_features": 4096, "bias": True},
           _linear, standards={"grad.bias": "reduction"}, reduction_dims=("in_features",)),
    OpKind("bmm", "tensor", "matmul", "matmul", {"batch": 8, "m": 128, "k": 64, "n": 128},
           lambda d: {"a": [d["batch"], d["m"], d["k"]], "b": [d["batch"], d["k"], d["n"]]}, reduction_dims=("k",)),
    OpKind("einsum", "tensor", "matmul", "matmul",
           {"equation": "bhqd,bhkd->bhqk", "b": 2, "h": 16, "q": 128, "k": 128, "d": 64},
           _einsum_inputs, params={"equation": "bhqd,bhkd->bhqk"}, reduction_dims=("d",)),
    OpKind("conv1d", "tensor", "reduction", "reduction",
           {"batch": 2, "in_channels": 256, "out_channels": 256, "length": 128, "kernel_size": 3,
            "stride": 1, "padding": 0, "groups": 1, "bias": True},  # torch's defaults, as the runner's
           _conv(("length",)), reduction_dims=("in_channels", "kernel_size")),
    OpKind("conv2d", "tensor", "reduction", "reduction",
           {"batch": 2, "in_channels": 64, "out_channels": 64, "height": 32, "width": 32, "kernel_size": 3,
            "stride": 1, "padding": 0, "groups": 1, "bias": True},  # torch's defaults, as the runner's
           _conv(("height", "width")), reduction_dims=("in_channels", "kernel_size")),
    OpKind("sdpa", "tensor", "reduction", "reduction", ATTENTION_DIMS, _attention,
           params={"is_causal": True}, reduction_dims=("head_dim", "seq")),
    # The fused attention torch_npu offers in place of flash-attn / SDPA; other devices run SDPA.
    OpKind("npu_fusion_attention", "tensor", "reduction", "reduction", ATTENTION_DIMS, _attention,
           params={"is_causal": True}, reduction_dims=("head_dim", "seq")),
    OpKind("layer_norm", "tensor", "reduction", "reduction", HIDDEN_DIMS, _norm(bias=True),
           params={"eps": 1e-5}, reduction_dims=("hidden",)),
    OpKind("rms_norm", "tensor", "reduction", "reduction", HIDDEN_DIMS, _norm(bias=False),
           params={"eps": 1e-6}, reduction_dims=("hidden",)),
    OpKind("softmax", "tensor", "reduction", "reduction", {"batch": 2, "rows": 16 * 128, "cols": 128},
           lambda d: {"x": [d["batch"], d["rows"], d["cols"]]}, params={"dim": -1}, reduction_dims=("cols",)),
    OpKind("log_softmax", "tensor", "reduction", "reduction", {"batch": 2, "rows": 128, "cols": 1024},
           lambda d: {"x": [d["batch"], d["rows"], d["cols"]]}, params={"dim": -1}, reduction_dims=("cols",)),
    OpKind("gelu", "tensor", "elementwise", "elementwise", HIDDEN_DIMS, lambda d: {"x": _x(d, "hidden")},
           params={"approximate": "none"}),
    OpKind("silu", "tensor", "elementwise", "elementwise", HIDDEN_DIMS, lambda d: {"x": _x(d, "hidden")}),
    OpKind("swiglu", "tensor", "elementwise", "elementwise", HIDDEN_DIMS,
           lambda d: {"x": [d["batch"], d["seq"], 2 * d["hidden"]]}),
    OpKind("embedding", "tensor", "exact", "reduction",
           {**TOKENS, "num_embeddings": 4096, "embedding_dim": 512},
           lambda d: {"weight": [d["num_embeddings"], d["embedding_dim"]],
                      "ids": _ids([d["batch"], d["seq"]], d["num_embeddings"])},
           reduction_dims=("embedding_dim",)),
    OpKind("cross_entropy", "tensor", "reduction", "reduction", {"rows": 64, "classes": 32000},
           lambda d: {"logits": [d["rows"], d["classes"]], "target": _ids([d["rows"]], d["classes"])},
           params={"ignore_index": -100, "label_smoothing": 0.0}, reduction_dims=("classes",)),
    OpKind("topk", "tensor", "exact", "exact", {"rows": 64, "cols": 1024}, lambda d: {"x": {"shape": [d["rows"], d["cols"]], "init": "distinct"}},
           params={"k": 8}, reduction_dims=("cols",)),
    OpKind("adamw", "optimizer", "elementwise", None, {"numel": 1 << 16}, _optimizer,
           params={"lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1, "impl": "fused"}),
    OpKind("adam", "optimizer", "elementwise", None, {"numel": 1 << 16}, _optimizer,
           params={"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "impl": "fused"}),
    OpKind("sgd", "optimizer", "elementwise", None, {"numel": 1 << 16}, _optimizer,
           params={"lr": 1e-2, "momentum": 0.9, "weight_decay": 0.0, "impl": "foreach"}),
    OpKind("all_reduce", "collective", "reduction", None, {"numel": 4096}, lambda d: {"x": [d["numel"]]},
           params={"world_size": 2, "reduce_op": "sum"}),
    OpKind("reduce_scatter", "collective", "reduction", None, {"numel": 4096}, lambda d: {"x": [d["numel"]]},
           params={"world_size": 2, "reduce_op": "sum"}),
    OpKind("all_gather", "collective", "exact", None, {"numel": 4096}, lambda d: {"x": [d["numel"]]},
           params={"world_size": 2}),
    OpKind("broadcast", "collective", "exact", None, {"numel": 4096}, lambda d: {"x": [d["numel"]]},
           params={"world_size": 2, "src": 0}),
    # "Original op vs. ported op": two callables named by import path, run on the same inputs.
    OpKind("custom", "custom", "reduction", "reduction", {}, lambda d: {}),
]

KINDS: dict[str, OpKind] = {kind.name: kind for kind in _KINDS}

class CatalogError(ValueError):
    """A case names an unknown op kind or gives sizes its inputs cannot be built from."""


def kind(name: str) -> OpKind:
    try:
        return KINDS[name]
    except KeyError:
        raise CatalogError(f"unknown op {name!r}; known ops: {', '.join(sorted(KINDS))}") from None


def build_inputs(op: str, dims: dict | None = None) -> dict:
    """Input specs for ``op`` from its default sizes updated with ``dims``."""
    spec = kind(op)
    merged = {**spec.dims, **(dims or {})}
    try:
        return spec.build_inputs(merged)
    except (KeyError, TypeError, ZeroDivisionError) as exc:
        raise CatalogError(f"cannot build inputs of {op!r} from sizes {merged}: {exc}") from None
