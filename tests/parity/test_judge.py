"""Verdicts: CPU against CPU passes for every op kind; injected faults pass or fail as they must."""

import pytest
import torch

from porter.parity import catalog
from porter.parity.cases import Case
from porter.parity.judge import judge
from porter.parity.metrics import ulp
from porter.parity.runner import make_inputs, run

from tests.parity.parity_helpers import small_case

TENSOR_OPS = sorted(k for k, v in catalog.KINDS.items() if v.family in ("tensor", "optimizer"))


def recorded(case_dict: dict):
    """A case with its reference and benchmark results, as compare would see them on a CPU target."""
    case = Case.from_dict(case_dict)
    tensors = make_inputs(case)
    reference = {**tensors, **run(case, tensors, "cpu", "reference")}
    bench = run(case, tensors, "cpu", "benchmark")
    return case, reference, bench


def against(case, reference, bench, perturb=None):
    target = {k: v.clone() for k, v in reference.items() if k.startswith(("output.", "grad."))}
    if perturb:
        perturb(target)
    return judge(case, reference, target, bench)


def fails_naming(verdict, case: str, metric: str):
    assert verdict.status == "fail", verdict.message
    assert verdict.deciding.metric == metric
    assert f"'{case}'" in verdict.message and metric in verdict.message


@pytest.mark.parametrize("op, dtype", [(op, dtype) for op in TENSOR_OPS for dtype in ("fp32", "fp16", "bf16")
                                       if dtype == "fp32" or catalog.kind(op).family != "optimizer"])
def test_every_op_kind_runs_and_judges_cpu_against_cpu(op, dtype):
    """Plumbing only (the target is bit-identical here): realistic pairs live in test_pairs.py."""
    case, reference, _ = recorded(small_case(op, dtype))
    target = run(case, dict(reference), "cpu", "target")
    bench = run(case, dict(reference), "cpu", "benchmark")
    verdict = judge(case, reference, target, bench)
    assert verdict.status == "pass", verdict.message
    assert any(key.startswith("grad.") for key in target) == (catalog.kind(op).grad_standard is not None)


def one_ulp_noise(tensor: torch.Tensor, seed: int) -> torch.Tensor:
    """Every nonzero element moved to a neighbouring representable value (or kept), at random."""
    steps = torch.randint(-1, 2, tensor.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.int16)
    bits = tensor.view(torch.int16) + torch.where(tensor == 0, 0, steps).to(torch.int16)
    return bits.view(tensor.dtype)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("op", ["matmul", "linear", "bmm", "softmax", "log_softmax", "gelu", "silu", "swiglu",
                                "layer_norm", "rms_norm", "sdpa", "conv2d", "cross_entropy"])
def test_noise_within_one_ulp_passes(op, dtype):
    case, reference, bench = recorded(small_case(op, dtype))

    def noise(target):
        for i, key in enumerate(sorted(target)):
            if target[key].dtype.is_floating_point:
                target[key] = one_ulp_noise(target[key], seed=i)

    verdict = against(case, reference, bench, noise)
    assert verdict.status == "pass", verdict.message


def test_one_ulp_noise_helper_moves_at_most_one_ulp():
    x = torch.randn(1000).to(torch.bfloat16)
    moved = one_ulp_noise(x, 0)
    distance = (moved.double() - x.double()).abs() / ulp(x.double(), "bf16")
    assert distance.max() <= 1 and (distance == 1).any()


def test_fp32_matmul_with_a_one_percent_error_fails():
    case, reference, bench = recorded(small_case("matmul", "fp32"))
    verdict = against(case, reference, bench, lambda t: t.update({"output.out": t["output.out"] * 1.01}))
    fails_naming(verdict, "matmul_fp32", "ulp_mean")
    assert verdict.deciding.tensor == "output.out"


def test_softmax_with_one_flipped_sign_fails():
    case, reference, bench = recorded(small_case("softmax", "fp32"))

    def flip(target):
        target["output.out"].view(-1)[5] *= -1

    fails_naming(against(case, reference, bench, flip), "softmax_fp32", "max_norm_err")


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_swapped_nan_positions_fail_and_matching_ones_pass(dtype):
    case, reference, bench = recorded(small_case("gelu", dtype))
    reference["output.out"].view(-1)[3] = float("nan")

    def same_nan(target):
        target["output.out"].view(-1)[3] = float("nan")

    def swapped_nan(target):
        target["output.out"].view(-1)[7] = float("nan")
        target["output.out"].view(-1)[3] = bench["output.out"].view(-1)[3].to(target["output.out"].dtype)

    assert against(case, reference, bench, same_nan).status == "pass"
    fails_naming(against(case, reference, bench, swapped_nan), f"gelu_{dtype}", "nan_inf_positions")


def test_wrong_shape_and_dtype_and_missing_output_fail():
    case, reference, bench = recorded(small_case("linear", "fp16"))
    shape = against(case, reference, bench, lambda t: t.update({"grad.weight": t["grad.weight"].t().contiguous()}))
    fails_naming(shape, "linear_fp16", "shape")
    dtype = against(case, reference, bench, lambda t: t.update({"output.out": t["output.out"].float()}))
    fails_naming(dtype, "linear_fp16", "dtype")
    missing = against(case, reference, bench, lambda t: t.pop("grad.bias"))
    fails_naming(missing, "linear_fp16", "missing")


def test_index_outputs_are_exact():
    case, reference, bench = recorded(small_case("topk", "bf16"))

    def swap(target):
        target["output.indices"][0, [0, 1]] = target["output.indices"][0, [1, 0]]

    verdict = against(case, reference, bench, swap)
    fails_naming(verdict, "topk_bf16", "mismatches")
    assert verdict.deciding.standard == "exact"


def test_two_sided_rule_holds_the_target_to_the_reference():
    case, reference, bench = recorded(small_case("sdpa", "fp32"))

    def scaled_error(factor):
        def perturb(target):
            for key in target:
                target[key] = (bench[key] + factor * (reference[key].double() - bench[key])).float()
        return perturb

    assert against(case, reference, bench, scaled_error(1.5)).status == "pass"
    verdict = against(case, reference, bench, scaled_error(3.0))
    assert verdict.status == "fail" and "two-sided" in verdict.message


def test_thresholds_are_overridable_per_case():
    lenient = {"ulp_mean": 1e9, "ulp_mean_floor": 1e9, "ulp_frac_over_floor": 1.0}
    case, reference, bench = recorded(small_case("matmul", "fp32", thresholds=lenient))
    verdict = against(case, reference, bench, lambda t: t.update({"output.out": t["output.out"] * 1.01}))
    assert verdict.status == "pass", verdict.message


def test_thresholds_override_makes_a_passing_case_fail():
    case, reference, bench = recorded(small_case("gelu", "fp32", thresholds={"rel_rmse_floor": 0.0, "rel_rmse_factor": 0.5}))
    noise = against(case, reference, bench, lambda t: t.update({"output.out": one_ulp_noise_fp32(t["output.out"])}))
    assert noise.status == "fail" and noise.deciding.metric == "rel_rmse", noise.message
    plain, reference, bench = recorded(small_case("gelu", "fp32"))
    assert against(plain, reference, bench, lambda t: t.update({"output.out": one_ulp_noise_fp32(t["output.out"])})).status == "pass"


def test_tolerance_override_is_applied_by_the_judge():
    """One ULP of noise passes the op's own standard (elementwise) and fails when the case says exact."""
    def noise(target):
        target["output.out"] = one_ulp_noise_fp32(target["output.out"])

    case, reference, bench = recorded(small_case("gelu", "fp32"))
    assert against(case, reference, bench, noise).status == "pass"
    strict, reference, bench = recorded(small_case("gelu", "fp32", tolerance="exact"))
    verdict = against(strict, reference, bench, noise)
    assert verdict.status == "fail" and verdict.deciding.standard == "exact" and verdict.deciding.metric in ("mismatches", "bench_mismatches")


def one_ulp_noise_fp32(tensor: torch.Tensor) -> torch.Tensor:
    steps = torch.randint(-1, 2, tensor.shape, generator=torch.Generator().manual_seed(11), dtype=torch.int32)
    return (tensor.view(torch.int32) + torch.where(tensor == 0, 0, steps)).view(torch.float32)
