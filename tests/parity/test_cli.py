"""record / compare / list / standards through the click commands, as a user runs them."""

import hashlib
import json
import re
import subprocess
import sys
import zlib
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from porter.findings import Report
from porter.parity.cli import parity
from porter.parity.golden import SUFFIX
from tests.parity.parity_helpers import REPO, small_case, write_suite


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
    path = recorded_suite / "golden" / f"softmax_bf16{SUFFIX}"
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
    failed = {(c["tensor"], c["metric"]) for c in wrong["checks"] if not c["passed"]}
    assert wrong["status"] == "fail" and ("output.out", "max_rel_err") in failed
    assert "bias_gelu_wrong_fp32" in wrong["message"] and wrong["metric"] in wrong["message"]


def test_custom_op_standard_is_inferred_at_record_time_and_kept_in_the_manifest(tmp_path):
    suite = write_suite(tmp_path / "parity", [
        {"name": "fma_fp32", "op": "custom", "original": "tests.parity.pairs:fma", "backward": False,
         "inputs": {"a": [8, 16], "b": [8, 16], "c": [8, 16]}},
        {"name": "row_sum_fp32", "op": "custom", "original": "tests.parity.pairs:row_sum", "backward": False,
         "inputs": {"x": [8, 16]}}])
    assert invoke("record", suite, "--device", "cpu").exit_code == 0
    manifest = json.loads((suite / "golden" / "manifest.json").read_text())
    assert manifest["cases"]["fma_fp32"]["standards"] == {"output.out": "elementwise"}
    assert manifest["cases"]["row_sum_fp32"]["standards"] == {"output.out": "reduction"}
    result = invoke("compare", suite, "--device", "cpu", "--json", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    standards = {r["case"]: r["standard"] for r in json.loads((tmp_path / "p.json").read_text())["cases"]}
    assert standards == {"fma_fp32": "elementwise", "row_sum_fp32": "reduction"}


def test_case_filter_and_list(recorded_suite):
    listed = invoke("list", recorded_suite, "-k", "soft*")
    assert listed.exit_code == 0 and listed.output.startswith("softmax_bf16: softmax bf16 x[2, 16, 32]")
    assert invoke("compare", recorded_suite, "--device", "cpu", "-k", "nothing-matches").exit_code == 2


def test_standards_command_prints_the_table():
    result = invoke("standards")
    assert result.exit_code == 0 and "| matmul | `ulp_mean` |" in result.output


def test_compare_fills_the_real_compatibility_report(recorded_suite):
    """porter.report's own load_report / write_reports, and the parity section of report.md."""
    from porter.report import load_report, write_reports

    report_dir = recorded_suite.parent / "porter-report"
    report_dir.mkdir()
    write_reports(Report(porter_version="0.1.0", rules_version="1", target="npu", source="src", output="dst"),
                  report_dir, ["json", "md"])
    assert "## Numeric parity" not in (report_dir / "report.md").read_text()
    result = invoke("compare", recorded_suite, "--device", "cpu")  # default --report location
    assert result.exit_code == 0, result.output
    loaded = load_report(report_dir / "report.json")
    rows = {row.case: row for row in loaded.parity}
    assert set(rows) == {"matmul_fp32", "softmax_bf16", "embedding_fp16"}
    assert rows["matmul_fp32"].status == "pass" and rows["matmul_fp32"].standard == "matmul"
    assert loaded.totals()["parity_cases_by_status"] == {"pass": 3, "fail": 0, "error": 0}
    markdown = (report_dir / "report.md").read_text()
    assert "## Numeric parity" in markdown
    assert re.search(r"^\| matmul_fp32 \| matmul \| fp32 \| pass \| ulp_\w+ \|", markdown, re.M), markdown


def test_parity_verdicts_count_in_totals_and_fail_on():
    from porter.findings import ParityRecord
    from porter.pipeline import fail_on_hit

    report = Report(porter_version="0.1.0", rules_version="1", target="npu", source="src", output="dst")
    assert "parity_cases_by_status" not in report.totals() and not fail_on_hit(report, "unsupported")
    report.parity = [ParityRecord("a", "gelu", "fp32", "pass"), ParityRecord("b", "gelu", "bf16", "fail")]
    assert report.totals()["parity_cases_by_status"] == {"pass": 1, "fail": 1, "error": 0}
    assert fail_on_hit(report, "unsupported") and fail_on_hit(report, "review") and not fail_on_hit(report, "never")
    assert report.to_dict()["parity"][1]["status"] == "fail"


def test_manifest_pins_reduced_precision_and_records_the_sdpa_backends(recorded_suite):
    precision = json.loads((recorded_suite / "golden" / "manifest.json").read_text())["environment"]["precision"]
    assert precision["cuda.matmul.allow_bf16_reduced_precision_reduction"] is False
    assert precision["cuda.matmul.allow_fp16_reduced_precision_reduction"] is False
    assert {"cuda.sdp.flash", "cuda.sdp.math"} <= set(precision)


BROKEN_TORCH_NPU = """\
raise ImportError("libascendcl.so: cannot open shared object file: No such file or directory")
"""


@pytest.fixture
def broken_torch_npu(tmp_path):
    """A torch_npu that torch autoloads (entry point torch.backends) and that cannot load: no CANN."""
    site = tmp_path / "site"
    (site / "torch_npu").mkdir(parents=True)
    (site / "torch_npu" / "__init__.py").write_text(BROKEN_TORCH_NPU)
    info = site / "torch_npu-2.13.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch_npu\nVersion: 2.13.0\n")
    (info / "entry_points.txt").write_text("[torch.backends]\ntorch_npu = torch_npu:_autoload\n")
    return site


def run_porter(args, site, cwd):
    env = {"PYTHONPATH": f"{site}:{REPO}", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    code = "import sys; from porter.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_a_torch_npu_that_cannot_load_breaks_neither_cpu_runs_nor_the_message(recorded_suite, broken_torch_npu, tmp_path):
    autoloaded = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True,
                                env={"PYTHONPATH": str(broken_torch_npu), "PATH": "/usr/bin:/bin"})
    assert autoloaded.returncode != 0 and "torch_npu" in autoloaded.stderr  # the failure being guarded against
    cpu = run_porter(["parity", "compare", recorded_suite, "--device", "cpu"], broken_torch_npu, tmp_path)
    assert cpu.returncode == 0, cpu.stdout + cpu.stderr
    npu = run_porter(["parity", "compare", recorded_suite, "--device", "npu"], broken_torch_npu, tmp_path)
    assert npu.returncode == 2 and "Traceback" not in npu.stderr, npu.stderr
    assert "torch_npu" in npu.stderr and "CANN" in npu.stderr and "--device cpu" in npu.stderr


def test_seeded_inputs_are_hashed_not_stored_and_regenerated_on_compare(recorded_suite, tmp_path):
    from safetensors.torch import load

    manifest = json.loads((recorded_suite / "golden" / "manifest.json").read_text())
    described = manifest["cases"]["matmul_fp32"]["tensors"]
    assert {k for k, m in described.items() if m.get("regenerated")} == {"input.a", "input.b", "cotangent.out"}
    stored = load(zlib.decompress((recorded_suite / "golden" / f"matmul_fp32{SUFFIX}").read_bytes()))
    assert set(stored) == {"output.out", "grad.a", "grad.b"}
    described["input.a"]["sha256"] = "0" * 64  # as if this machine's generator made other bits
    (recorded_suite / "golden" / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("compare", recorded_suite, "--device", "cpu", "--json", tmp_path / "p.json")
    assert result.exit_code == 2 and "input.a (regenerated from the seed" in result.output
    statuses = {r["case"]: r["status"] for r in json.loads((tmp_path / "p.json").read_text())["cases"]}
    assert statuses == {"matmul_fp32": "error", "softmax_bf16": "pass", "embedding_fp16": "pass"}


def test_collective_rank_inputs_are_stored(tmp_path):
    suite = write_suite(tmp_path / "parity", [small_case("all_reduce", "fp32", params={"world_size": 1})])
    assert invoke("record", suite, "--device", "cpu").exit_code == 0
    tensors = json.loads((suite / "golden" / "manifest.json").read_text())["cases"]["all_reduce_fp32"]["tensors"]
    assert not any(m.get("regenerated") for m in tensors.values()) and "input.x.r0" in tensors


def test_max_golden_mb_refuses_a_large_set_and_writes_nothing(tmp_path):
    suite = write_suite(tmp_path / "parity", [small_case("matmul", "fp32"), small_case("softmax", "fp32")])
    result = invoke("record", suite, "--device", "cpu", "--max-golden-mb", "0.001")
    assert result.exit_code == 2 and "over the limit of 0.001 MB" in result.output and "matmul_fp32" in result.output
    assert not (suite / "golden").exists()


def test_console_table_never_wraps_a_case_name(tmp_path):
    name = "linear_attention_output_projection_4096x1024_bf16_with_bias"
    suite = write_suite(tmp_path / "parity", [small_case("linear", "bf16", name=name)])
    assert invoke("record", suite, "--device", "cpu").exit_code == 0
    result = invoke("compare", suite, "--device", "cpu")  # CliRunner's console is 80 columns wide
    assert result.exit_code == 0 and any(name in line for line in result.output.splitlines()), result.output


def test_stored_tensors_are_shuffled_and_compressed_losslessly(recorded_suite):
    """Every stored tensor comes back bit for bit (the manifest's per-tensor hashes are checked on load), and the
    float bytes compress: the file is smaller than the same tensors as plain safetensors."""
    from safetensors.torch import save

    from porter.parity.golden import load_case, load_manifest
    from porter.parity.suite import load_suite

    golden = recorded_suite / "golden"
    manifest = load_manifest(golden)
    for case in load_suite(recorded_suite).cases:
        tensors = load_case(golden, manifest, case)
        stored = {k: t for k, t in tensors.items() if not manifest["cases"][case.name]["tensors"][k].get("regenerated")}
        assert (golden / f"{case.name}{SUFFIX}").stat().st_size < 0.95 * len(save(stored)), case.name


def test_a_version_2_golden_set_still_compares(recorded_suite):
    """Golden sets recorded before compression (plain safetensors) are read as they are."""
    from safetensors.torch import save

    from porter.parity.golden import load_case, load_manifest
    from porter.parity.suite import load_suite

    golden = recorded_suite / "golden"
    manifest = load_manifest(golden)
    for case in load_suite(recorded_suite).cases:
        entry = manifest["cases"][case.name]
        tensors = load_case(golden, manifest, case)
        data = save({k: t for k, t in tensors.items() if not entry["tensors"][k].get("regenerated")})
        (golden / entry["file"]).unlink()
        entry.update(file=f"{case.name}.safetensors", sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
        (golden / entry["file"]).write_bytes(data)
    manifest["format_version"] = 2
    (golden / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("compare", recorded_suite, "--device", "cpu")
    assert result.exit_code == 0 and "3 cases: 3 passed" in result.output, result.output


@pytest.mark.parametrize("tensor", ["scalar_fp32", "scalar_bf16", "matrix_fp16", "ids_int64", "mask_bool", "empty_fp32"])
def test_shuffling_round_trips_through_the_file_format(tensor):
    import torch
    from safetensors.torch import load, save

    from porter.parity.dtypes import dtype_name
    from porter.parity.golden import _shuffled, _unshuffled

    original = {"scalar_fp32": torch.tensor(2.5), "scalar_bf16": torch.tensor(-1.25, dtype=torch.bfloat16),
                "matrix_fp16": torch.randn(3, 5).half(), "ids_int64": torch.arange(7), "mask_bool": torch.rand(4, 3) > 0.5,
                "empty_fp32": torch.zeros(0, 3)}[tensor]
    again = _unshuffled(load(save({"t": _shuffled(original)}))["t"],
                        {"dtype": dtype_name(original.dtype), "shape": list(original.shape)})
    assert again.dtype == original.dtype and torch.equal(again, original)
