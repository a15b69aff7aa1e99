"""Accuracy standards: which metrics judge a tensor, and their thresholds per standard and dtype.

Every tensor a case produces (outputs and gradients) is judged by one standard:

- ``exact``: integer, boolean and index outputs, and copies (gather, broadcast): bit-identical.
- ``elementwise``: per-element error against the high-precision benchmark.
- ``matmul``: ULP error of the output dtype (matmul, linear, bmm, einsum).
- ``reduction``: cosine similarity and relative-error statistics (reductions, normalisations,
  softmax, attention, convolution, losses, collectives that sum).

A rule with a ``limit`` bounds the target's own value. A rule with a ``floor`` is also two-sided:
the target's value may be at most ``factor`` times the reference's value measured against the
same benchmark, where values below the floor count as the floor (so a reference that happens to
be nearly exact does not make a rounding-level target fail).

This module is data only and imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPES = ("fp32", "fp16", "bf16")
EPS = {"fp32": 2.0**-23, "fp16": 2.0**-10, "bf16": 2.0**-7}
TWO_SIDED_FACTOR = 2.0
# A worst element moves by a whole ULP between two faithful implementations, so a maximum is held
# to the reference more loosely than a mean (msprobe's benchmark standard does the same: 10 vs 2).
MAX_FACTOR = 10.0


@dataclass(frozen=True)
class MetricRule:
    metric: str
    bound: str  # "max": value <= limit; "min": value >= limit
    limit: dict[str, float] | None
    floor: dict[str, float] | None = None  # None: one-sided
    source: str = ""  # where the numbers come from (docs/parity.md explains each)
    factor: float = TWO_SIDED_FACTOR  # two-sided: target <= factor * max(reference, floor)


def _per_eps(fp32: float, fp16: float, bf16: float) -> dict[str, float]:
    """Thresholds written as multiples of each dtype's machine epsilon."""
    return {"fp32": fp32 * EPS["fp32"], "fp16": fp16 * EPS["fp16"], "bf16": bf16 * EPS["bf16"]}


def _same(value: float) -> dict[str, float]:
    return {dtype: value for dtype in DTYPES}


RELATIVE_FLOOR = _per_eps(8, 1, 1)

# The benchmark's values below small * rms(benchmark) are judged at that magnitude instead, so
# cancellation near zero does not turn rounding noise into huge relative (or ULP) errors. fp16/bf16
# reductions and matmuls may accumulate in reduced precision (split-K, flash attention): their error
# is then additive (a fraction of the rms, not of each value), so their floor is higher.
SMALL = {
    "elementwise": {"fp32": 2.0**-4, "fp16": 2.0**-7, "bf16": 2.0**-7},
    "matmul": {"fp32": 2.0**-4, "fp16": 2.0**-2, "bf16": 2.0**-2},
    "reduction": {"fp32": 2.0**-10, "fp16": 2.0**-4, "bf16": 2.0**-4},
}

# matmul: an element counts as "over" when its ULP error exceeds this.
ULP_OVER = {"fp32": 256.0, "fp16": 8.0, "bf16": 8.0}

STANDARDS: dict[str, tuple[MetricRule, ...]] = {
    "exact": (
        MetricRule("mismatches", "max", _same(0.0), source="msprobe: binary consistency"),
        MetricRule("bench_mismatches", "max", _same(0.0), source="msprobe: binary consistency"),
    ),
    # The worst element only has an absolute limit: two correct libms can differ 10x in their worst
    # element while both are far inside it. The mean and the RMS are two-sided.
    "elementwise": (
        MetricRule("max_rel_err", "max", _per_eps(1024, 4, 4), source="one-sided: 1024 ε fp32, 4 ε fp16/bf16"),
        MetricRule("mean_rel_err", "max", _per_eps(64, 1, 1), RELATIVE_FLOOR,
                   source="limit 64 ε fp32 (as msprobe's mean-ULP bar); msprobe benchmark ratio 2"),
        MetricRule("rel_rmse", "max", None, RELATIVE_FLOOR, source="msprobe benchmark ratio 2"),
    ),
    "matmul": (
        MetricRule("ulp_mean", "max", {"fp32": 64.0, "fp16": 4.0, "bf16": 4.0}, _same(1.0),
                   source="msprobe ULP standard: fp32 mean < 64 ULP"),
        # Two-sided: a long fp32 sum into few outputs puts a handful of near-zero elements over the bound on any
        # backend (K = 4096 into 768 outputs: 2 and 4 of them for two summation orders).
        MetricRule("ulp_frac_over", "max", None, {"fp32": 0.01, "fp16": 0.001, "bf16": 0.001},
                   source="msprobe ULP standard: proportion over the bound 0.05 fp32 (32 ULP), 0.001 fp16 (1 ULP)"),
    ),
    # Reductions are judged against the reference (two-sided only), with cosine as the absolute bar:
    # their error depends on the summation order and length, which the reference's error captures.
    # Every statistic is normwise or floored, so additive (split-K) and multiplicative errors of the
    # same size pass alike.
    "reduction": (
        MetricRule("cosine", "min", {"fp32": 0.999999, "fp16": 0.9999, "bf16": 0.999}, source="porter: 1 − 1e-6 / 1e-4 / 1e-3"),
        MetricRule("rel_rmse", "max", None, RELATIVE_FLOOR, source="msprobe benchmark ratio 2"),
        MetricRule("max_norm_err", "max", None, _per_eps(16, 2, 2),
                   source="msprobe benchmark max ratio 10, normwise", factor=MAX_FACTOR),
        MetricRule("mean_rel_err", "max", None, RELATIVE_FLOOR, source="msprobe benchmark ratio 2"),
    ),
}

# Per-standard parameters that are not limits but are overridable like them.
PARAMETERS = {
    "exact": {},
    "elementwise": {"small": SMALL["elementwise"]},
    "matmul": {"small": SMALL["matmul"], "ulp_over": ULP_OVER},
    "reduction": {"small": SMALL["reduction"]},
}
PARAMETER_SOURCES = {"small": "relative-error floor × rms(benchmark)", "ulp_over": "looser than msprobe's 32 ULP fp32 / 1 ULP fp16"}


class StandardError(ValueError):
    """An unknown standard, or an override naming no threshold of it."""


def threshold_dtype(dtype: str) -> str:
    """The table column a tensor dtype is judged by (fp64 and other floats use the fp32 column)."""
    return dtype if dtype in DTYPES else "fp32"


def resolve(standard: str, dtype: str, overrides: dict[str, float] | None = None) -> dict[str, float]:
    """Flat thresholds for one tensor: ``<metric>``, ``<metric>_floor``, ``<metric>_factor`` and parameters.

    The override ``factor`` sets every two-sided factor of the standard at once.
    """
    if standard not in STANDARDS:
        raise StandardError(f"unknown standard {standard!r}; choose one of {', '.join(STANDARDS)}")
    column = threshold_dtype(dtype)
    values: dict[str, float] = {}
    for rule in STANDARDS[standard]:
        if rule.limit is not None:
            values[rule.metric] = rule.limit[column]
        if rule.floor is not None:
            values[f"{rule.metric}_floor"] = rule.floor[column]
            values[f"{rule.metric}_factor"] = rule.factor
    for name, per_dtype in PARAMETERS[standard].items():
        values[name] = per_dtype[column]
    overrides = dict(overrides or {})
    if "factor" in overrides and any(key.endswith("_factor") for key in values):
        every = overrides.pop("factor")
        values.update({key: float(every) for key in values if key.endswith("_factor")})
    for key, value in overrides.items():
        if key not in values:
            raise StandardError(
                f"threshold {key!r} does not apply to the {standard} standard; known: {', '.join(sorted(values))}"
            )
        values[key] = float(value)
    return values


def known_thresholds() -> set[str]:
    """Every name a case's ``thresholds`` may override, across standards."""
    return {"factor"} | {name for standard in STANDARDS for name in resolve(standard, "fp32")}


def format_number(value) -> str:
    """A measured or threshold value as the tables and messages show it: 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown_table() -> str:
    """The standards table as Markdown: the single source for docs/parity.md (a test keeps them equal)."""
    lines = [
        "| standard | threshold | rule | " + " | ".join(DTYPES) + " | basis |",
        "|---|---|---|" + "---|" * len(DTYPES) + "---|",
    ]
    for standard, rules in STANDARDS.items():
        for rule in rules:
            if rule.limit is not None:
                sign = "≥" if rule.bound == "min" else "≤"
                cells = " | ".join(format_number(rule.limit[d]) for d in DTYPES)
                lines.append(f"| {standard} | `{rule.metric}` | target {sign} limit | {cells} | {rule.source} |")
            if rule.floor is not None:
                cells = " | ".join(format_number(rule.floor[d]) for d in DTYPES)
                lines.append(f"| {standard} | `{rule.metric}_floor` | target ≤ {format_number(rule.factor)} × max(reference, "
                             f"floor) (`{rule.metric}_factor`) | {cells} | {rule.source} |")
        for name, per_dtype in PARAMETERS[standard].items():
            cells = " | ".join(format_number(per_dtype[d]) for d in DTYPES)
            lines.append(f"| {standard} | `{name}` | parameter | {cells} | {PARAMETER_SOURCES[name]} |")
    return "\n".join(lines) + "\n"
