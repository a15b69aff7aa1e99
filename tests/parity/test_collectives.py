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
