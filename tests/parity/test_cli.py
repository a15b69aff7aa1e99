"""record / compare / list / standards through the click commands, as a user runs them."""

import json
import sys
import types
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from porter.findings import Report
from porter.parity.cli import parity
from tests.parity.parity_helpers import small_case, write_suite


def invoke(*args):
    return CliRunner().invoke(parity, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def recorded_suite(tmp_path):
    suite = write_suite(tmp_path / "parity", [small_case("matmul", "fp32"), small_case("softmax", "bf16"),
                                              small_case("embedding", "fp16")])
    result = invoke("record", suite, "--device", "cpu")
    assert result.exit_code == 0, result.output
    return suite


def test_compare_on_cpu_passes_and_writes_junit_and_json(recorded_suite, tmp_path):
    result = invoke("compare", recorded_suite, "--device", "cpu", "--junit", tmp_path / "p.xml",
                    "--json", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    assert "3 cases: 3 passed" in result.output
    suite = ET.parse(tmp_path / "p.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["summary"] == {"cases": 3, "pass": 3, "fail": 0, "error": 0}
    assert data["reference"]["device"] == "cpu" and data["reference"]["precision"]["cuda.matmul.allow_tf32"] is False
    assert {r["case"] for r in data["cases"]} == {"matmul_fp32", "softmax_bf16", "embedding_fp16"}


def test_manifest_records_environment_and_hashes(recorded_suite):
    manifest = json.loads((recorded_suite / "golden" / "manifest.json").read_text())
    assert manifest["format"] == "porter-parity-golden"
    assert manifest["environment"]["device"] == "cpu" and manifest["environment"]["torch"]
    entry = manifest["cases"]["matmul_fp32"]
    assert len(entry["sha256"]) == 64 and entry["tensors"]["output.out"]["shape"] == [16, 32]
    assert set(entry["tensors"]) == {"input.a", "input.b", "cotangent.out", "output.out", "grad.a", "grad.b"}


def test_truncated_golden_is_a_clear_error_naming_case_and_metric(recorded_suite, tmp_path):
    path = recorded_suite / "golden" / "softmax_bf16.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    result = invoke("compare", recorded_suite, "--device", "cpu", "--json", tmp_path / "p.json")
    assert result.exit_code == 2
    assert "softmax_bf16" in result.output and "corrupt" in result.output
    record = next(r for r in json.loads((tmp_path / "p.json").read_text())["cases"] if r["case"] == "softmax_bf16")
    assert record["status"] == "error" and record["metric"] == "golden"


def test_edited_case_after_recording_is_a_mismatched_golden(recorded_suite):
    text = (recorded_suite / "parity.yaml").read_text().replace("- 16\n    - 64", "- 16\n    - 65", 1)
    (recorded_suite / "parity.yaml").write_text(text)
    result = invoke("compare", recorded_suite, "--device", "cpu", "-k", "matmul")
    assert result.exit_code == 2 and "different definition" in result.output


def test_missing_golden_set_exits_2(tmp_path):
    suite = write_suite(tmp_path / "parity", [small_case("gelu")])
    result = invoke("compare", suite, "--device", "cpu")
    assert result.exit_code == 2 and "porter parity record" in result.output


def test_npu_without_torch_npu_exits_2_with_a_clear_message(recorded_suite):
    pytest.importorskip("torch")
    if "torch_npu" in sys.modules:
        pytest.skip("torch_npu is importable here")
    result = invoke("compare", recorded_suite, "--device", "npu")
    assert result.exit_code == 2 and "torch_npu" in result.output and "--device cpu" in result.output


def test_custom_op_port_passes_and_wrong_port_fails(custom_suite, tmp_path):
    assert invoke("record", custom_suite, "--device", "cpu").exit_code == 0
    result = invoke("compare", custom_suite, "--device", "cpu", "--json", tmp_path / "p.json")
    assert result.exit_code == 1
    status = {r["case"]: r for r in json.loads((tmp_path / "p.json").read_text())["cases"]}
    assert {k for k, v in status.items() if v["status"] == "pass"} == {
        "bias_gelu_fp32", "bias_gelu_bf16", "scaled_projection_fp32", "scaled_projection_fp16", "sorted_rows"}
    wrong = status["bias_gelu_wrong_fp32"]
    assert wrong["status"] == "fail" and wrong["metric"] == "max_rel_err"
    assert "bias_gelu_wrong_fp32" in wrong["message"] and "max_rel_err" in wrong["message"]


def test_case_filter_and_list(recorded_suite):
    listed = invoke("list", recorded_suite, "-k", "soft*")
    assert listed.exit_code == 0 and listed.output.startswith("softmax_bf16: softmax bf16 x[2, 16, 32]")
    assert invoke("compare", recorded_suite, "--device", "cpu", "-k", "nothing-matches").exit_code == 2


def test_standards_command_prints_the_table():
    result = invoke("standards")
    assert result.exit_code == 0 and "| matmul | `ulp_mean` |" in result.output


def test_compare_fills_the_compatibility_report(recorded_suite, monkeypatch):
    """Through stand-ins for porter.report's load_report / write_reports (the lead's module)."""
    report = Report(porter_version="0.1.0", rules_version="1", target="npu", source="src", output="dst")
    written = {}
    fake = types.ModuleType("porter.report")
    fake.load_report = lambda path: report
    fake.write_reports = lambda rep, out_dir, formats: written.update(report=rep, out_dir=out_dir, formats=list(formats))
    monkeypatch.setitem(sys.modules, "porter.report", fake)
    report_json = recorded_suite.parent / "porter-report" / "report.json"
    report_json.parent.mkdir()
    report_json.write_text("{}")
    result = invoke("compare", recorded_suite, "--device", "cpu")  # default --report location
    assert result.exit_code == 0, result.output
    assert written["formats"] == ["json", "md"] and written["out_dir"] == report_json.parent
    rows = written["report"].to_dict()["parity"]
    assert {"case", "op", "dtype", "status", "metric", "value", "threshold", "message"} <= set(rows[0])
    assert json.dumps(rows)  # serialisable as the report's JSON
