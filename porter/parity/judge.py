"""The verdict on one case: every output and gradient of the target against the reference and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from porter.parity import metrics, standards
from porter.parity.cases import Case
from porter.parity.dtypes import dtype_name

STRUCTURAL = ("missing", "shape", "dtype", "nan_inf_positions")


@dataclass
class Check:
    tensor: str
    metric: str
    value: float | str
    threshold: float | str
    passed: bool
    standard: str = ""
    reference: float | None = None  # the reference's value of the same metric
    note: str = ""

    def margin(self) -> float:
        """How close to its threshold (1.0 = at it): ranks checks to pick the deciding one."""
        if not isinstance(self.value, float) or not isinstance(self.threshold, float):
            return 0.0 if self.passed else float("inf")
        if self.metric == "cosine":
            return (1 - self.value) / max(1 - self.threshold, 1e-300)
        if self.threshold == 0:
            return 0.0 if self.value == 0 else float("inf")
        return self.value / self.threshold


@dataclass
class Verdict:
    case: str
    op: str
    dtype: str
    status: str  # pass | fail | error
    message: str
    checks: list[Check] = field(default_factory=list)
    deciding: Check | None = None

    @classmethod
    def error(cls, case: Case, metric: str, message: str) -> "Verdict":
        check = Check(tensor="", metric=metric, value="error", threshold="", passed=False)
        return cls(case.name, case.op, case.dtype, "error", f"case {case.name!r}: {metric}: {message}", [check], check)


def judge(case: Case, reference: dict, target: dict, bench: dict, inferred: dict[str, str] | None = None) -> Verdict:
    """``reference``/``target``/``bench``: the output.* and grad.* tensors of each run.

    ``inferred``: standards inferred for a custom op's tensors (``porter.parity.infer``); a case's
    ``tolerance:`` wins over them.
    """
    checks: list[Check] = []
    for key in sorted(k for k in reference if k.startswith(("output.", "grad."))):
        checks.extend(judge_tensor(case, key, reference[key], target.get(key), bench.get(key), (inferred or {}).get(key)))
    for key in sorted(k for k in target if k.startswith(("output.", "grad.")) and k not in reference):
        checks.append(Check(key, "missing", "produced", "not in reference", False,
                            note="the target produced a tensor the reference did not"))
    return _verdict(case, checks)


def judge_tensor(case: Case, key: str, ref: torch.Tensor, tgt: torch.Tensor | None, bench: torch.Tensor | None,
                 inferred: str | None = None) -> list[Check]:
    if tgt is None:
        return [Check(key, "missing", "absent", "present", False, note="the target did not produce it")]
    if tuple(tgt.shape) != tuple(ref.shape):
        return [Check(key, "shape", str(list(tgt.shape)), str(list(ref.shape)), False)]
    if tgt.dtype != ref.dtype:
        return [Check(key, "dtype", dtype_name(tgt.dtype), dtype_name(ref.dtype), False)]
    dtype = dtype_name(ref.dtype)
    standard = case.standard_for(key, integer=not ref.dtype.is_floating_point)
    if inferred and ref.dtype.is_floating_point and not _tolerance_names(case, key):
        standard = inferred
    overrides = {k: v for k, v in case.thresholds.items() if k in standards.resolve(standard, dtype)}
    limits = standards.resolve(standard, dtype, overrides)
    if bench is None or tuple(bench.shape) != tuple(ref.shape):
        found = "absent" if bench is None else str(list(bench.shape))
        return [Check(key, "benchmark", found, str(list(ref.shape)), False, standard,
                      note="the CPU benchmark does not match the reference: the case or the golden is wrong")]
    bad_positions = metrics.nonfinite_mismatches(ref, tgt)
    checks = [Check(key, "nan_inf_positions", float(bad_positions), 0.0, bad_positions == 0, standard)]
    if standard == "exact":
        for metric, value in (("mismatches", metrics.mismatches(tgt, ref)),
                              ("bench_mismatches", metrics.mismatches(tgt, bench.to(ref.dtype)))):
            checks.append(Check(key, metric, float(value), limits[metric], value <= limits[metric], standard))
        return checks
    r, t, b = (x.detach().double().flatten() for x in (ref, tgt, bench))
    finite = r.isfinite() & t.isfinite() & b.isfinite()
    if not bool(finite.all()):
        r, t, b = r[finite], t[finite], b[finite]
    tgt_metrics = metrics.compute(standard, t, b, dtype, limits)
    ref_metrics = metrics.compute(standard, r, b, dtype, limits)
    for rule in standards.STANDARDS[standard]:
        checks.append(_apply(rule, key, standard, tgt_metrics[rule.metric], ref_metrics[rule.metric], limits))
    return checks


def _tolerance_names(case: Case, key: str) -> bool:
    """Whether the case's ``tolerance:`` picks the standard of this tensor."""
    return isinstance(case.tolerance, str) or (isinstance(case.tolerance, dict) and key in case.tolerance)


def _apply(rule: standards.MetricRule, key: str, standard: str, value: float, ref_value: float, limits: dict) -> Check:
    limit = limits.get(rule.metric)
    if rule.bound == "min":
        passed = value >= limit
        note = "the reference is below the limit too" if not passed and ref_value < limit else ""
        return Check(key, rule.metric, value, limit, passed, standard, ref_value, note)
    threshold, note = limit if limit is not None else float("inf"), ""
    if rule.floor is not None:
        factor = limits[f"{rule.metric}_factor"]
        relative = factor * max(ref_value, limits[f"{rule.metric}_floor"])
        if relative < threshold:
            threshold, note = relative, f"two-sided: at most {factor:g} x max(reference, floor)"
    passed = value <= threshold
    if not passed and limit is not None and ref_value > limit:
        note = "the reference exceeds the limit too"
    return Check(key, rule.metric, value, threshold, passed, standard, ref_value, note)


def _verdict(case: Case, checks: list[Check]) -> Verdict:
    failed = [c for c in checks if not c.passed]
    structural = [c for c in failed if c.metric in STRUCTURAL]
    if structural:
        deciding = structural[0]
    elif failed:
        deciding = max(failed, key=Check.margin)
    else:
        deciding = max(checks, key=Check.margin, default=None)
    status = "fail" if failed else "pass"
    return Verdict(case.name, case.op, case.dtype, status, describe(case, deciding, status), checks, deciding)


def describe(case: Case, check: Check | None, status: str) -> str:
    if check is None:
        return f"case {case.name!r}: {status} (no tensors to compare)"
    relation = "within" if check.passed else "violates"
    number = standards.format_number
    text = (f"case {case.name!r}: {check.tensor} {check.metric} = {number(check.value)} {relation} "
            f"{number(check.threshold)}")
    if check.standard:
        text += f" ({check.standard} standard"
        text += f", reference {number(check.reference)})" if check.reference is not None else ")"
    if check.note:
        text += f"; {check.note}"
    return text
