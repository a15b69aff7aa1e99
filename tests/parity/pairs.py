"""Realistic result pairs for the parity standards, and the table of their verdicts in docs/parity.md.

Each pair is one case and two implementations of it. A *correct* pair is two implementations that
differ the way real backends do (a different erf/exp formulation, fused vs unfused multiply-add,
fp64-then-rounded vs fp32 math, split-K partial sums in bf16, flash-style blockwise softmax, another
summation order); each must pass when judged as the target against the other as the reference, in
both directions. A *fault* is a plausible porting bug; judged against a correct reference it must fail.
Nothing here is bit-identical to its partner: ``test_pairs.py`` checks that too.

Regenerate the table with ``python -m tests.parity.pairs``; ``test_pairs.py`` keeps it equal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from porter.parity import infer
from porter.parity.cases import Case
from porter.parity.judge import Verdict, judge
from porter.parity.runner import make_inputs, run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "parity.md"
Impl = Callable[[dict], torch.Tensor]


@dataclass(frozen=True)
class Pair:
    name: str
    case: dict  # a parity.yaml case (backward off: the pairs judge forward results)
    reference: Impl  # inputs (the case dtype) -> the output tensor
    target: Impl
    expect: str  # pass (correct pair, judged both ways) | fail (a fault against a correct reference)
    what: str
    prepare: Callable[[dict], None] | None = None  # adjusts the seeded inputs in place


# ---------------------------------------------------------------- implementations

def _fp32(fn: Callable[[torch.Tensor], torch.Tensor]) -> Impl:
    """fn computed in fp32 on the input ``x``, rounded to the input's dtype."""
    return lambda t: fn(t["x"].float()).to(t["x"].dtype)


def _fp64_rounded(fn: Callable[[torch.Tensor], torch.Tensor]) -> Impl:
    """fn computed in fp64 and rounded once: a correctly rounded implementation."""
    return lambda t: fn(t["x"].double()).to(t["x"].dtype)


def gelu_erfc(x):
    return 0.5 * x * torch.special.erfc(-x * math.sqrt(0.5))


def _erf_abramowitz_stegun(z):
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): another libm's approximation."""
    a = z.abs()
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return torch.sign(z) * (1.0 - poly * torch.exp(-a * a))


def gelu_polynomial_erf(x):
    return 0.5 * x * (1.0 + _erf_abramowitz_stegun(x * math.sqrt(0.5)))


def gelu_tanh_as_sigmoid(x, c=0.044715, cubic=True):
    """0.5 * (1 + tanh(u)) written as sigmoid(2u): no cancellation in the negative tail."""
    inner = x + c * x.pow(3) if cubic else x
    return x * torch.sigmoid(2.0 * math.sqrt(2.0 / math.pi) * inner)


def silu_by_exp(x):
    return x / (1.0 + torch.exp(-x))


def online_softmax(x, block=32, round_to=None):
    """Flash-style: blockwise running max and sum, rescaled as blocks arrive (fp32)."""
    running_max = torch.full(x.shape[:-1] + (1,), -math.inf, dtype=x.dtype)
    running_sum = torch.zeros_like(running_max)
    for start in range(0, x.shape[-1], block):
        chunk = x[..., start:start + block]
        new_max = torch.maximum(running_max, chunk.amax(-1, keepdim=True))
        probs = torch.exp(chunk - new_max)
        if round_to is not None:
            probs = probs.to(round_to).to(x.dtype)
        running_sum = running_sum * torch.exp(running_max - new_max) + probs.sum(-1, keepdim=True)
        running_max = new_max
    probs = torch.exp(x - running_max)
    if round_to is not None:
        probs = probs.to(round_to).to(x.dtype)
    return probs / running_sum


def split_k_matmul(a, b, chunks=4, accumulate=torch.float32, partial=None):
    """Sum of K-chunk products: each partial in ``accumulate``, optionally rounded to ``partial`` (split-K)."""
    k = a.shape[-1]
    total = None
    for start in range(0, k, k // chunks):
        part = torch.matmul(a[..., start:start + k // chunks].to(accumulate), b[start:start + k // chunks].to(accumulate))
        if partial is not None:
            part = part.to(partial).to(accumulate)
        total = part if total is None else total + part
        if partial is not None:
            total = total.to(partial).to(accumulate)
    return total.to(a.dtype)


def round_tf32(t):
    """fp32 rounded to TF32/HF32's 10-bit significand (round to nearest even)."""
    bits = t.view(torch.int32)
    lsb = (bits >> 13) & 1
    return ((bits + 0xFFF + lsb) & ~0x1FFF).view(torch.float32)


def flash_attention(q, k, v, causal=True, block=16, p_dtype=torch.bfloat16):
    """Blockwise attention in fp32 whose probabilities are rounded to ``p_dtype`` before P @ V."""
    qf, kf, vf = q.float(), k.float(), v.float()
    scale = q.shape[-1] ** -0.5
    seq = q.shape[-2]
    out = torch.zeros_like(qf)
    row_max = torch.full(qf.shape[:-1] + (1,), -math.inf)
    row_sum = torch.zeros(qf.shape[:-1] + (1,))
    for start in range(0, seq, block):
        scores = qf @ kf[..., start:start + block, :].transpose(-1, -2) * scale
        if causal:
            rows = torch.arange(seq).unsqueeze(-1)
            cols = torch.arange(start, min(start + block, seq)).unsqueeze(0)
            scores = scores.masked_fill(cols > rows, -math.inf)
        new_max = torch.maximum(row_max, scores.amax(-1, keepdim=True))
        correction = torch.exp(row_max - new_max)
        probs = torch.exp(scores - new_max).to(p_dtype).float()
        row_sum = row_sum * correction + probs.sum(-1, keepdim=True)
        out = out * correction + probs @ vf[..., start:start + block, :]
        row_max = new_max
    return (out / row_sum).to(q.dtype)


def layer_norm_one_pass(x, weight, bias, eps=1e-5, unbiased=False):
    """fp32 statistics from E[x^2] - E[x]^2 (one pass), as some fused kernels compute them."""
    xf = x.float()
    n = x.shape[-1]
    mean = xf.mean(-1, keepdim=True)
    var = (xf.square().mean(-1, keepdim=True) - mean.square())
    if unbiased:
        var = var * n / (n - 1)
    return ((xf - mean) * torch.rsqrt(var + eps) * weight.float() + bias.float()).to(x.dtype)


def ln_unfused_affine(t):
    normalised = F.layer_norm(t["x"].float(), t["x"].shape[-1:]).to(t["x"].dtype)
    return normalised * t["weight"] + t["bias"]


def _sdpa(causal):
    return lambda t: F.scaled_dot_product_attention(t["q"], t["k"], t["v"], is_causal=causal)


def _noisy_layer_norm(form: str, size: float):
    """A bf16 layer norm whose fp32 error is ``size`` relative RMS, multiplicative or additive."""

    def run_(t):
        exact = F.layer_norm(t["x"].double(), t["x"].shape[-1:], t["weight"].double(), t["bias"].double())
        noise = torch.randn(exact.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * size
        noisy = exact * (1 + noise) if form == "multiplicative" else exact + noise * exact.square().mean().sqrt()
        return noisy.to(t["x"].dtype)

    return run_


def _perturb(fn: Impl, fraction: float, relative: float) -> Impl:
    """A fault: ``fraction`` of the elements (seeded) get ``relative`` error."""

    def run_(t):
        out = fn(t).clone()
        flat = out.view(-1)
        picked = torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(3))[:max(1, int(fraction * flat.numel()))]
        flat[picked] = (flat[picked].double() * (1 + relative)).to(out.dtype)
        return out

    return run_


def _with_nan(fn: Impl, fraction: float) -> Impl:
    def run_(t):
        out = fn(t).clone()
        flat = out.view(-1)
        flat[torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(5))[:max(1, int(fraction * flat.numel()))]] = math.nan
        return out

    return run_


# Custom ops: the benchmark runs these by import path, in high precision.

def fma(a, b, c):
    return a * b + c


def fma_fused(t):
    """One rounding: a*b + c in fp64, rounded (what a fused multiply-add gives)."""
    return (t["a"].double() * t["b"].double() + t["c"].double()).to(t["a"].dtype)


def fma_separate(t):
    """Two roundings: the product rounded to fp32, then the sum."""
    return t["a"] * t["b"] + t["c"]


def fma_bf16_product(t):
    return (t["a"] * t["b"]).bfloat16().float() + t["c"]


def near_cancellation(tensors: dict):
    """c = -(a*b) to within a few percent: the sum is small where a*b is not."""
    a, b, c = tensors["input.a"], tensors["input.b"], tensors["input.c"]
    tensors["input.c"] = (-(a.double() * b.double()) * (1 + 0.05 * c.double())).to(c.dtype)


def exp_op(x):
    return torch.exp(x)


def row_sum(x):
    return x.sum(-1)


def _custom(name, dtype, inputs, original, tolerance=None):
    case = {"name": name, "op": "custom", "dtype": dtype, "inputs": inputs, "backward": False,
            "original": f"tests.parity.pairs:{original}"}
    if tolerance:
        case["tolerance"] = tolerance
    return case


def _case(name, op, dtype, inputs, **params):
    return {"name": name, "op": op, "dtype": dtype, "inputs": inputs, "params": params, "backward": False}


HIDDEN = {"x": [4, 64, 256]}
NORM = {"x": [4, 64, 256], "weight": {"shape": [256], "mean": 1.0, "std": 0.1}, "bias": {"shape": [256], "std": 0.1}}
ATTENTION = {"q": [1, 4, 64, 32], "k": [1, 4, 64, 32], "v": [1, 4, 64, 32]}
MATMUL = {"a": [64, 1024], "b": [1024, 96]}
LONG_K = {"a": [256, 4096], "b": [4096, 3]}  # few outputs, one of which lands near zero
LINEAR = {"x": [4, 16, 256], "weight": {"shape": [128, 256], "std": 0.0625}, "bias": {"shape": [128], "std": 0.5}}
FMA = {"a": [64, 256], "b": [64, 256], "c": [64, 256]}
ln_torch = lambda t: F.layer_norm(t["x"], t["x"].shape[-1:], t["weight"], t["bias"])  # noqa: E731
ln_one_pass = lambda t: layer_norm_one_pass(t["x"], t["weight"], t["bias"])  # noqa: E731
gelu_torch = lambda t: F.gelu(t["x"])  # noqa: E731
gelu_tanh_torch = lambda t: F.gelu(t["x"], approximate="tanh")  # noqa: E731
matmul_torch = lambda t: t["a"] @ t["b"]  # noqa: E731
linear_torch = lambda t: F.linear(t["x"], t["weight"], t["bias"])  # noqa: E731

PAIRS = [
    # correct pairs: each passes against the other, both ways
    Pair("gelu_fp32: libm erf vs erfc form", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         _fp32(gelu_erfc), "pass", "0.5·x·(1+erf) against 0.5·x·erfc(−x/√2): worst tail errors differ ~10×"),
    Pair("gelu_fp32: libm erf vs polynomial erf", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         _fp32(gelu_polynomial_erf), "pass", "erf by Abramowitz–Stegun 7.1.26 (another libm's approximation)"),
    Pair("gelu_fp32: fp32 math vs fp64 rounded", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         _fp64_rounded(lambda x: F.gelu(x)), "pass", "a correctly rounded GELU against fp32 math"),
    Pair("gelu_tanh_fp32: tanh vs sigmoid form", _case("gelu_tanh_fp32", "gelu", "fp32", HIDDEN, approximate="tanh"),
         gelu_tanh_torch, _fp32(gelu_tanh_as_sigmoid), "pass", "0.5·(1+tanh u) against sigmoid(2u)"),
    Pair("silu_fp32: libm vs x/(1+exp(−x))", _case("silu_fp32", "silu", "fp32", HIDDEN), lambda t: F.silu(t["x"]),
         _fp32(silu_by_exp), "pass", "sigmoid from a different exp formulation"),
    Pair("silu_bf16: fused vs unfused", _case("silu_bf16", "silu", "bf16", HIDDEN), lambda t: F.silu(t["x"]),
         lambda t: t["x"] * torch.sigmoid(t["x"]), "pass", "one rounding against a bf16 sigmoid and a bf16 multiply"),
    Pair("exp_fp32: exp vs exp2(x·log2 e)", _custom("exp_fp32", "fp32", {"x": {"shape": [64, 256], "std": 3.0}}, "exp_op"),
         lambda t: torch.exp(t["x"]), lambda t: torch.exp2(t["x"] * math.log2(math.e)), "pass",
         "custom op (standard inferred: elementwise); rounding of x·log2 e grows with x"),
    Pair("fma_fp32: fused vs separate multiply-add", _custom("fma_fp32", "fp32", FMA, "fma"), fma_fused, fma_separate,
         "pass", "custom a·b+c with a·b ≈ −c; one rounding against two (standard inferred: elementwise)",
         prepare=near_cancellation),
    Pair("softmax_fp32: torch vs online blockwise", _case("softmax_fp32", "softmax", "fp32", {"x": [4, 64, 256]}),
         lambda t: torch.softmax(t["x"], -1), lambda t: online_softmax(t["x"]), "pass",
         "flash-style running max and sum, another summation order"),
    Pair("softmax_bf16: torch vs bf16 probabilities", _case("softmax_bf16", "softmax", "bf16", {"x": [4, 64, 256]}),
         lambda t: torch.softmax(t["x"], -1),
         lambda t: online_softmax(t["x"].float(), round_to=torch.bfloat16).bfloat16(), "pass",
         "exp(x − max) rounded to bf16 before the sum (double rounding)"),
    Pair("matmul_fp32: torch vs split-K order", _case("matmul_fp32", "matmul", "fp32", MATMUL), matmul_torch,
         lambda t: split_k_matmul(t["a"], t["b"]), "pass", "four K-chunks summed: another summation order"),
    Pair("matmul_fp32: K = 4096 into 768 outputs, torch vs split-K order",
         _case("matmul_fp32", "matmul", "fp32", LONG_K), matmul_torch, lambda t: split_k_matmul(t["a"], t["b"]), "pass",
         "a long sum into few outputs: one element in 768 is over 256 ULP on either side"),
    Pair("matmul_bf16: fp32 accumulation vs bf16 split-K", _case("matmul_bf16", "matmul", "bf16", MATMUL), matmul_torch,
         lambda t: split_k_matmul(t["a"], t["b"], partial=torch.bfloat16), "pass",
         "reduced-precision reduction: partial sums rounded to bf16"),
    Pair("matmul_fp16: fp32 accumulation vs fp16 split-K", _case("matmul_fp16", "matmul", "fp16", MATMUL), matmul_torch,
         lambda t: split_k_matmul(t["a"], t["b"], partial=torch.float16), "pass",
         "reduced-precision reduction: partial sums rounded to fp16"),
    Pair("sdpa_bf16: math vs flash-style", _case("sdpa_bf16", "sdpa", "bf16", ATTENTION, is_causal=True), _sdpa(True),
         lambda t: flash_attention(t["q"], t["k"], t["v"]), "pass", "blockwise softmax, probabilities rounded to bf16"),
    Pair("layer_norm_bf16: fused vs unfused affine", _case("layer_norm_bf16", "layer_norm", "bf16", NORM), ln_torch,
         ln_unfused_affine, "pass", "normalised values rounded to bf16 before the bf16 weight and bias"),
    Pair("layer_norm_bf16: 2e-3 multiplicative vs additive", _case("layer_norm_bf16", "layer_norm", "bf16", NORM),
         _noisy_layer_norm("multiplicative", 2e-3), _noisy_layer_norm("additive", 2e-3), "pass",
         "relative RMS error 2e-3 either proportional to each value or uniform across values"),
    Pair("layer_norm_fp32: torch vs one-pass variance", _case("layer_norm_fp32", "layer_norm", "fp32", NORM), ln_torch,
         ln_one_pass, "pass", "fp32 statistics from E[x²] − E[x]²"),
    # faults: each fails against the correct reference
    Pair("gelu_fp32: 1e-3 error on 1% of elements", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         _perturb(gelu_torch, 0.01, 1e-3), "fail", "well past the max_rel_err limit"),
    Pair("gelu_fp32: 2e-4 error on 1% of elements", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         _perturb(gelu_torch, 0.01, 2e-4), "fail", "just past the max_rel_err limit (1.22e-4)"),
    Pair("softmax_fp32: 1e-3 error on 1% of elements", _case("softmax_fp32", "softmax", "fp32", {"x": [4, 64, 256]}),
         lambda t: torch.softmax(t["x"], -1), _perturb(lambda t: torch.softmax(t["x"], -1), 0.01, 1e-3), "fail",
         "a reduction with a localised error"),
    Pair("silu_fp32: 0.1% NaN", _case("silu_fp32", "silu", "fp32", HIDDEN), lambda t: F.silu(t["x"]),
         _with_nan(lambda t: F.silu(t["x"]), 0.001), "fail", "NaN where the reference has none"),
    Pair("gelu_fp32: computed in bf16", _case("gelu_fp32", "gelu", "fp32", HIDDEN), gelu_torch,
         lambda t: F.gelu(t["x"].bfloat16()).float(), "fail", "bf16 where fp32 was expected"),
    Pair("matmul_fp32: TF32 inputs", _case("matmul_fp32", "matmul", "fp32", MATMUL), matmul_torch,
         lambda t: round_tf32(t["a"]) @ round_tf32(t["b"]), "fail", "TF32/HF32 rounding where full precision was pinned"),
    Pair("matmul_fp32: bf16 split-K", _case("matmul_fp32", "matmul", "fp32", MATMUL), matmul_torch,
         lambda t: split_k_matmul(t["a"], t["b"], partial=torch.bfloat16), "fail", "bf16 partial sums in an fp32 matmul"),
    Pair("linear_bf16: dropped bias", _case("linear_bf16", "linear", "bf16", LINEAR), linear_torch,
         lambda t: F.linear(t["x"], t["weight"]), "fail", "the bias add lost in the port"),
    Pair("sdpa_bf16: missing causal mask", _case("sdpa_bf16", "sdpa", "bf16", ATTENTION, is_causal=True), _sdpa(True),
         _sdpa(False), "fail", "attention over future positions"),
    Pair("sdpa_fp32: bf16 probabilities", _case("sdpa_fp32", "sdpa", "fp32", ATTENTION, is_causal=True), _sdpa(True),
         lambda t: flash_attention(t["q"], t["k"], t["v"]), "fail", "a bf16 flash kernel where fp32 was expected"),
    Pair("row_sum_fp32: sum became average", _custom("row_sum_fp32", "fp32", {"x": [64, 256]}, "row_sum"),
         lambda t: t["x"].sum(-1), lambda t: t["x"].mean(-1), "fail", "custom reduction (standard inferred: reduction)"),
    Pair("gelu_tanh_fp32: wrong constant", _case("gelu_tanh_fp32", "gelu", "fp32", HIDDEN, approximate="tanh"),
         gelu_tanh_torch, _fp32(lambda x: gelu_tanh_as_sigmoid(x, c=0.0447)), "fail", "0.0447 for 0.044715"),
    Pair("gelu_tanh_fp32: dropped cubic term", _case("gelu_tanh_fp32", "gelu", "fp32", HIDDEN, approximate="tanh"),
         gelu_tanh_torch, _fp32(lambda x: gelu_tanh_as_sigmoid(x, cubic=False)), "fail", "tanh(√(2/π)·x)"),
    Pair("layer_norm_fp32: variance over n − 1", _case("layer_norm_fp32", "layer_norm", "fp32", NORM), ln_torch,
         lambda t: layer_norm_one_pass(t["x"], t["weight"], t["bias"], unbiased=True), "fail",
         "an off-by-one in the divisor (relative error 1/2n)"),
    Pair("fma_fp32: bf16 product", _custom("fma_fp32", "fp32", FMA, "fma"), fma_fused, fma_bf16_product, "fail",
         "the product rounded to bf16 before the add", prepare=near_cancellation),
]


def inputs_of(pair: Pair) -> tuple[Case, dict]:
    case = Case.from_dict(pair.case)
    tensors = make_inputs(case)
    if pair.prepare:
        pair.prepare(tensors)
    return case, tensors


def outputs(impl: Impl, tensors: dict) -> dict:
    return {"output.out": impl({k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")})}


def verdicts(pair: Pair) -> list[Verdict]:
    """The target judged against the reference, and (for a correct pair) the reverse."""
    case, tensors = inputs_of(pair)
    reference, target = outputs(pair.reference, tensors), outputs(pair.target, tensors)
    bench = run(case, dict(tensors), "cpu", "benchmark")
    inferred = infer.standards(case, tensors) if case.kind.family == "custom" else {}
    result = [judge(case, reference, target, bench, inferred)]
    if pair.expect == "pass":
        result.append(judge(case, target, reference, bench, inferred))
    return result


def _cell(verdict: Verdict) -> str:
    d = verdict.deciding
    return f"{verdict.status}: `{d.metric}` {d.value:.3g} vs {d.threshold:.3g}" if d and isinstance(d.value, float) else verdict.status


def markdown_table() -> str:
    lines = ["| pair | standard | expected | target vs reference | reference vs target | how they differ |",
             "|---|---|---|---|---|---|"]
    for pair in PAIRS:
        judged = verdicts(pair)
        standard = judged[0].deciding.standard if judged[0].deciding else ""
        reverse = _cell(judged[1]) if len(judged) > 1 else "—"
        lines.append(f"| {pair.name} | {standard} | {pair.expect} | {_cell(judged[0])} | {reverse} | {pair.what} |")
    return "\n".join(lines) + "\n"


TABLE = re.compile(r"(<!-- pairs-table:[^\n]*-->\n)(.*?)(<!-- /pairs-table -->)", re.S)


def main() -> None:
    text = DOCS.read_text()
    DOCS.write_text(TABLE.sub(lambda m: m.group(1) + markdown_table() + m.group(3), text))


if __name__ == "__main__":
    main()
