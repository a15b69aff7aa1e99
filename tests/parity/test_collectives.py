"""Collective semantics: world size 1 in process, world size 2 in a loopback gloo group."""

import pytest

from porter.parity.cases import Case
from porter.parity.harness import compare, record
from porter.parity.judge import judge
from porter.parity.runner import make_inputs, run
from porter.parity.suite import load_suite
from tests.parity.parity_helpers import small_case, write_suite

OPS = ("all_reduce", "reduce_scatter", "all_gather", "broadcast")


def test_every_collective_passes_at_world_sizes_1_and_2(tmp_path):
    cases = [small_case(op, dtype, name=f"{op}_ws{ws}_{dtype}", params={"world_size": ws})
             for op in OPS for ws in (1, 2) for dtype in ("fp32", "bf16")]
    suite = load_suite(write_suite(tmp_path / "parity", cases))
    recorded = record(suite, "cpu", tmp_path / "golden", suite.cases)
    assert not recorded.failed and len(recorded.recorded) == len(cases)
    verdicts, _ = compare(suite, "cpu", tmp_path / "golden", suite.cases)
    assert [v.status for v in verdicts] == ["pass"] * len(cases), [v.message for v in verdicts if v.status != "pass"]


def test_a_collective_with_the_wrong_semantics_fails():
    """An all_reduce that averages where the code sums (e.g. a mistranslated ReduceOp) is caught."""
    case = Case.from_dict(small_case("all_reduce", "fp32", params={"world_size": 1}))
    tensors = make_inputs(case)
    reference = {**tensors, **run(case, tensors, "cpu", "reference")}
    bench = run(case, tensors, "cpu", "benchmark")
    averaged = {k: v / 2 for k, v in reference.items() if k.startswith("output.")}
    verdict = judge(case, reference, averaged, bench)
    assert verdict.status == "fail" and "'all_reduce_fp32'" in verdict.message


@pytest.mark.parametrize("op", OPS)
def test_benchmark_is_the_collective_definition(op):
    case = Case.from_dict(small_case(op, "fp32", params={"world_size": 2}))
    tensors = make_inputs(case)
    x0, x1 = tensors["input.x.r0"].double(), tensors["input.x.r1"].double()
    bench = run(case, tensors, "cpu", "benchmark")
    expected = {"all_reduce": (x0 + x1, x0 + x1), "reduce_scatter": ((x0 + x1)[:32], (x0 + x1)[32:]),
                "all_gather": ((c := __import__("torch").cat([x0, x1])), c), "broadcast": (x0, x0)}[op]
    assert bench["output.out.r0"].equal(expected[0]) and bench["output.out.r1"].equal(expected[1])


def test_world_size_4_through_torchrun_on_cpu_gloo(tmp_path):
    """--world-size N launches the collectives with torch's own launcher (gloo on the CPU)."""
    import json

    from click.testing import CliRunner

    from porter.parity.cli import parity

    suite = write_suite(tmp_path / "parity", [small_case(op, "fp32") for op in OPS])
    invoke = lambda *args: CliRunner().invoke(parity, [str(a) for a in args], catch_exceptions=False)  # noqa: E731
    recorded = invoke("record", suite, "--device", "cpu", "--world-size", 4)
    assert recorded.exit_code == 0, recorded.output
    manifest = json.loads((suite / "golden" / "manifest.json").read_text())
    assert {f"input.x.r{r}" for r in range(4)} <= set(manifest["cases"]["all_reduce_fp32"]["tensors"])
    assert "output.out.r3" in manifest["cases"]["all_gather_fp32"]["tensors"]
    compared = invoke("compare", suite, "--device", "cpu", "--world-size", 4, "--json", tmp_path / "p.json")
    assert compared.exit_code == 0, compared.output
    assert json.loads((tmp_path / "p.json").read_text())["summary"] == {"cases": 4, "pass": 4, "fail": 0, "error": 0}
    other_world = invoke("compare", suite, "--device", "cpu", "--world-size", 2)
    assert other_world.exit_code == 2 and "different definition" in other_world.output


def test_launcher_arguments(monkeypatch):
    from porter.parity.collectives import LAUNCHER_ARGS, launcher_args

    monkeypatch.delenv(LAUNCHER_ARGS, raising=False)
    assert launcher_args(4) == ["--nproc-per-node", "4", "--standalone"]
    monkeypatch.setenv(LAUNCHER_ARGS, "--nnodes 2 --node-rank 1 --rdzv-endpoint host0:29500 --rdzv-backend c10d")
    assert launcher_args(8) == ["--nnodes", "2", "--node-rank", "1", "--rdzv-endpoint", "host0:29500",
                                "--rdzv-backend", "c10d", "--nproc-per-node", "4"]
