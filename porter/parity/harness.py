"""record and compare over a suite: run cases, store or load goldens, judge."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from porter.parity.cases import Case
from porter.parity.suite import Suite


@dataclass
class Recorded:
    manifest: Path
    recorded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # case name -> error


def select(cases: list[Case], patterns: tuple[str, ...]) -> list[Case]:
    """Cases whose name matches any glob (a pattern without wildcards matches as a substring)."""
    if not patterns:
        return list(cases)
    globs = [p if any(ch in p for ch in "*?[") else f"*{p}*" for p in patterns]
    return [c for c in cases if any(fnmatch.fnmatchcase(c.name, g) for g in globs)]


def record(suite: Suite, device: str, golden_dir: Path, cases: list[Case], max_golden_mb: float | None = None) -> Recorded:
    """Run ``cases`` on ``device`` and replace the golden set; GoldenError when it would exceed ``max_golden_mb``."""
    from porter.parity import device as devices
    from porter.parity import golden, infer, runner

    environment = devices.prepare(device)
    inputs, failed = {}, {}
    for case in cases:  # a case whose inputs cannot be built fails alone; the rest are recorded
        try:
            inputs[case.name] = runner.make_inputs(case)
        except (ValueError, RuntimeError) as exc:
            failed[case.name] = f"inputs: {type(exc).__name__}: {exc}"
    cases = [c for c in cases if c.name in inputs]
    with suite.importable():
        results = _run_all(cases, inputs, device, "reference")
    kept, inferred = {}, {}
    for case in cases:
        tensors, outcome = results[case.name]
        if isinstance(outcome, Exception):
            failed[case.name] = f"{type(outcome).__name__}: {outcome}"
            continue
        kept[case.name] = (case, {**tensors, **outcome})
        if case.kind.family == "custom":
            try:
                with suite.importable():
                    inferred[case.name] = infer.standards(case, tensors)
            except Exception as exc:  # the benchmark cannot be probed: the case's own default applies
                failed[case.name] = f"standard inference: {type(exc).__name__}: {exc}"
                del kept[case.name]
    manifest = golden.write(golden_dir, environment, kept, inferred, max_golden_mb)
    return Recorded(manifest, sorted(kept), failed)


def compare(suite: Suite, device: str, golden_dir: Path, cases: list[Case]) -> tuple[list, dict]:
    """Verdicts for the selected cases, and the target's environment. Raises GoldenError when no set exists."""
    from porter.parity import device as devices
    from porter.parity import golden
    from porter.parity.judge import Verdict, judge

    environment = devices.prepare(device)
    manifest = golden.load_manifest(golden_dir)
    verdicts: dict[str, Verdict] = {}
    recorded = {}
    for case in cases:
        try:
            recorded[case.name] = golden.load_case(golden_dir, manifest, case)
        except golden.GoldenError as exc:
            verdicts[case.name] = Verdict.error(case, "golden", str(exc))
    runnable = [c for c in cases if c.name in recorded]
    inputs = {name: {k: v for k, v in t.items() if k.startswith(("input.", "cotangent."))} for name, t in recorded.items()}
    with suite.importable():
        targets = _run_all(runnable, inputs, device, "target")
        benches = _run_all(runnable, inputs, "cpu", "benchmark")
    for case in runnable:
        (_, target), (_, bench) = targets[case.name], benches[case.name]
        if isinstance(target, Exception):
            verdicts[case.name] = Verdict.error(case, "target_run", f"{type(target).__name__}: {target}")
        elif isinstance(bench, Exception):
            verdicts[case.name] = Verdict.error(case, "benchmark_run", f"{type(bench).__name__}: {bench}")
        else:
            inferred = manifest["cases"][case.name].get("standards")
            verdicts[case.name] = judge(case, recorded[case.name], target, bench, inferred)
    return [verdicts[c.name] for c in cases], environment


def _run_all(cases: list[Case], inputs: dict, device: str, role: str) -> dict:
    """case name -> (inputs it ran with, outputs or the exception it raised). Collectives share one group."""
    from porter.parity import collectives, runner

    results = {}
    grouped = [c for c in cases if c.kind.family == "collective"]
    if grouped:
        try:
            outcome = collectives.run([(c, inputs[c.name]) for c in grouped], device, role)
        except Exception as exc:  # the whole group failed: every collective case reports it
            outcome = {c.name: exc for c in grouped}
        for case in grouped:
            results[case.name] = (inputs[case.name], outcome[case.name])
    for case in cases:
        if case.kind.family == "collective":
            continue
        tensors = dict(inputs[case.name])
        try:
            results[case.name] = (tensors, runner.run(case, tensors, device, role))
        except Exception as exc:  # a case's failure is its verdict, not the run's end
            results[case.name] = (tensors, exc)
    return results
