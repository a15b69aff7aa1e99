"""The standards on realistic pairs: correct implementations pass both ways, planted faults fail."""

import re

import pytest

from porter.parity import infer
from porter.parity.cases import Case
from porter.parity.judge import judge
from porter.parity.metrics import mismatches
from tests.parity import pairs

CORRECT = [p for p in pairs.PAIRS if p.expect == "pass"]
FAULTS = [p for p in pairs.PAIRS if p.expect == "fail"]


@pytest.mark.parametrize("pair", CORRECT, ids=lambda p: p.name)
def test_correct_pair_passes_in_both_directions_and_is_not_bit_identical(pair):
    case, tensors = pairs.inputs_of(pair)
    reference, target = pairs.outputs(pair.reference, tensors), pairs.outputs(pair.target, tensors)
    assert mismatches(reference["output.out"], target["output.out"]) > 0, "a bit-identical pair proves nothing"
    for verdict in pairs.verdicts(pair):
        assert verdict.status == "pass", verdict.message


@pytest.mark.parametrize("pair", FAULTS, ids=lambda p: p.name)
def test_planted_fault_fails(pair):
    (verdict,) = pairs.verdicts(pair)
    assert verdict.status == "fail", verdict.message
    assert f"'{Case.from_dict(pair.case).name}'" in verdict.message


def test_custom_op_standards_are_inferred_from_the_benchmark():
    by_name = {p.name.split(":")[0]: p for p in pairs.PAIRS}
    inferred = {name: infer.standards(*pairs.inputs_of(by_name[name])) for name in ("fma_fp32", "exp_fp32", "row_sum_fp32")}
    assert inferred == {"fma_fp32": {"output.out": "elementwise"}, "exp_fp32": {"output.out": "elementwise"},
                        "row_sum_fp32": {"output.out": "reduction"}}


def test_a_softmax_is_not_elementwise_though_its_shape_is():
    case = Case.from_dict({"name": "softmax_op", "op": "custom", "inputs": {"x": [8, 16]}, "backward": False,
                           "original": "torch:softmax", "params": {"dim": -1}})
    from porter.parity.runner import make_inputs

    assert infer.standards(case, make_inputs(case)) == {"output.out": "reduction"}


def test_the_inferred_standard_is_what_keeps_a_correct_fma_port_passing():
    """Judged as a reduction (the old default of custom ops), fused vs separate multiply-add fails."""
    pair = next(p for p in CORRECT if p.name.startswith("fma_fp32"))
    case, tensors = pairs.inputs_of(pair)
    reference, target = pairs.outputs(pair.reference, tensors), pairs.outputs(pair.target, tensors)
    from porter.parity.runner import run

    bench = run(case, dict(tensors), "cpu", "benchmark")
    assert judge(case, reference, target, bench, infer.standards(case, tensors)).status == "pass"
    assert judge(case, reference, target, bench, {"output.out": "reduction"}).status == "fail"


def test_tolerance_overrides_the_inferred_standard():
    pair = next(p for p in CORRECT if p.name.startswith("fma_fp32"))
    case, tensors = pairs.inputs_of(pair)
    case.tolerance = "reduction"
    reference, target = pairs.outputs(pair.reference, tensors), pairs.outputs(pair.target, tensors)
    from porter.parity.runner import run

    verdict = judge(case, reference, target, run(case, dict(tensors), "cpu", "benchmark"), {"output.out": "elementwise"})
    assert verdict.status == "fail" and verdict.deciding.standard == "reduction"


def _verdicts(table: str) -> list[list[str]]:
    """The table without its measured values: which check decides and by how much depends on the CPU's libm and
    vector width (AVX2 and AVX-512 differ in the last bits), the verdicts do not."""
    rows = [line.split(" | ") for line in table.splitlines()]
    return [row[:3] + [cell.split(":")[0] for cell in row[3:5]] + row[5:] for row in rows]


def test_docs_pair_table_is_current():
    text = pairs.DOCS.read_text()
    table = re.search(r"<!-- pairs-table:[^\n]*-->\n(.*?)<!-- /pairs-table -->", text, re.S)
    assert table, "docs/parity.md has no pairs table"
    assert _verdicts(table.group(1)) == _verdicts(pairs.markdown_table()), "run: python -m tests.parity.pairs"
