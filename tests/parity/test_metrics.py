"""The statistics against independent numpy computations."""

import numpy as np
import pytest
import torch

from porter.parity import metrics


def _representable(dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Values across many binades (normals, subnormals, zero, powers of two) exactly representable in dtype."""
    rng = np.random.default_rng(seed)
    magnitudes = np.ldexp(rng.uniform(1, 2, 4000), rng.integers(-30, 30, 4000))
    values = torch.from_numpy(np.concatenate([magnitudes, -magnitudes, [0.0, 1.0, 2.0, 0.5, 2.0**-24, 2.0**-14]]))
    values = values.to(dtype)
    return values[values.abs() < torch.finfo(dtype).max]  # below the largest finite: numpy's spacing overflows there


@pytest.mark.parametrize("dtype, np_dtype", [(torch.float16, np.float16), (torch.float32, np.float32)])
def test_ulp_matches_numpy_spacing(dtype, np_dtype):
    values = _representable(dtype)
    expected = np.spacing(np.abs(values.double().numpy()).astype(np_dtype)).astype(np.float64)
    got = metrics.ulp(values.double(), {torch.float16: "fp16", torch.float32: "fp32"}[dtype]).numpy()
    np.testing.assert_array_equal(got, expected)


def test_ulp_bfloat16_is_float32_spacing_times_2_16():
    values = _representable(torch.bfloat16)
    normal = values.double().abs() >= 2.0**-126
    spacing32 = np.spacing(np.abs(values.double().numpy()).astype(np.float32)).astype(np.float64)
    got = metrics.ulp(values.double(), "bf16").numpy()
    np.testing.assert_array_equal(got[normal.numpy()], spacing32[normal.numpy()] * 2.0**16)
    # bf16 subnormals (and zero) have the spacing of the smallest normal binade
    assert set(got[~normal.numpy()]) == {2.0**-133}


def test_ulp_of_bf16_neighbours_is_their_distance():
    x = torch.tensor([1.0, 3.0, 1000.0, 1e-3], dtype=torch.bfloat16)
    up = torch.nextafter(x.float(), torch.tensor(float("inf"))).bfloat16()  # rounds to the next bf16
    up = torch.where(up == x, (x.view(torch.int16) + 1).view(torch.bfloat16), up)
    np.testing.assert_array_equal(metrics.ulp(x.double(), "bf16").numpy(), (up.double() - x.double()).numpy())


def test_cosine_and_relative_errors_match_numpy():
    rng = np.random.default_rng(1)
    bench = rng.normal(size=1000)
    result = bench + rng.normal(scale=1e-3, size=1000)
    expected_cos = result @ bench / (np.linalg.norm(result) * np.linalg.norm(bench))
    assert metrics.cosine(torch.from_numpy(result), torch.from_numpy(bench)) == pytest.approx(expected_cos, rel=1e-12)

    small = 2.0**-4
    floor = small * np.sqrt(np.mean(bench**2))
    expected_rel = np.abs(result - bench) / np.maximum(np.abs(bench), floor)
    got = metrics.relative_errors(torch.from_numpy(result), torch.from_numpy(bench), small).numpy()
    np.testing.assert_allclose(got, expected_rel, rtol=1e-12)

    stats = metrics.compute("reduction", torch.from_numpy(result), torch.from_numpy(bench), "fp32", {"small": small})
    assert stats["max_rel_err"] == pytest.approx(expected_rel.max(), rel=1e-12)
    assert stats["mean_rel_err"] == pytest.approx(expected_rel.mean(), rel=1e-12)
    assert stats["rel_rmse"] == pytest.approx(np.sqrt(np.mean((result - bench) ** 2)) / np.sqrt(np.mean(bench**2)), rel=1e-12)


def test_ulp_statistics_match_numpy_spacing():
    rng = np.random.default_rng(2)
    bench = rng.normal(size=2000).astype(np.float32).astype(np.float64)  # representable: exact spacing
    steps = rng.integers(-3, 4, size=2000)
    result = bench + steps * np.spacing(np.abs(bench).astype(np.float32)).astype(np.float64)
    stats = metrics.compute("matmul", torch.from_numpy(result), torch.from_numpy(bench), "fp32",
                            {"small": 0.0, "ulp_over": 2.0})
    assert stats["ulp_mean"] == pytest.approx(np.abs(steps).mean(), rel=1e-12)
    assert stats["ulp_frac_over"] == pytest.approx((np.abs(steps) > 2).mean(), rel=1e-12)


def test_nonfinite_and_exact_mismatches():
    nan, inf = float("nan"), float("inf")
    ref = torch.tensor([1.0, nan, inf, -inf, 2.0])
    assert metrics.nonfinite_mismatches(ref, ref.clone()) == 0
    assert metrics.nonfinite_mismatches(ref, torch.tensor([nan, 1.0, inf, -inf, 2.0])) == 2
    assert metrics.nonfinite_mismatches(ref, torch.tensor([1.0, nan, -inf, inf, 2.0])) == 2
    assert metrics.mismatches(ref, ref.clone()) == 0  # NaN equals NaN here
    assert metrics.mismatches(torch.tensor([1, 2, 3]), torch.tensor([1, 5, 3])) == 1
