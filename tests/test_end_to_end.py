"""Port the bundled example project and compare with the committed snapshot of the output tree and report."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from porter.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "fixtures" / "projects" / "mini_gpt"
EXPECTED = ROOT / "fixtures" / "projects" / "mini_gpt.expected"
UPDATE = os.environ.get("PORTER_UPDATE_SNAPSHOTS") == "1"


def _normalised_report_md(path, src, dst):
    text = path.read_text()
    text = text.replace(str(src), "<SRC>").replace(str(dst), "<DST>")
    return "\n".join(line for line in text.splitlines() if not line.startswith("| porter |")) + "\n"


def _port(tmp_path, *extra, exit_code=0):
    src = tmp_path / "src"
    shutil.copytree(PROJECT, src, symlinks=True)
    dst = tmp_path / "out"
    result = CliRunner().invoke(main, ["port", str(src), "-o", str(dst), "--no-parity", "-q", *extra])
    assert result.exit_code == exit_code, result.output
    return src, dst


def test_example_matches_snapshot(tmp_path):
    src, dst = _port(tmp_path)
    report_md = _normalised_report_md(dst / "porter-report" / "report.md", src, dst)
    shutil.rmtree(dst / "porter-report")
    if UPDATE:
        shutil.rmtree(EXPECTED, ignore_errors=True)
        shutil.copytree(dst, EXPECTED, symlinks=True)
        (EXPECTED.parent / "mini_gpt.report.md").write_text(report_md)
    comparison = filecmp.dircmp(dst, EXPECTED)
    _assert_same_tree(comparison)
    assert report_md == (EXPECTED.parent / "mini_gpt.report.md").read_text()


def _assert_same_tree(comparison):
    assert not comparison.left_only and not comparison.right_only, (comparison.left_only, comparison.right_only)
    _, mismatch, errors = filecmp.cmpfiles(comparison.left, comparison.right, comparison.common_files, shallow=False)
    assert not mismatch and not errors, (comparison.left, mismatch, errors)
    for sub in comparison.subdirs.values():
        _assert_same_tree(sub)


def test_untouched_files_are_byte_identical_and_modes_kept(tmp_path):
    src, dst = _port(tmp_path)
    for name in ("model.py", "data.py", "legacy_py2.py", "assets/logo.png", "config.yaml"):
        assert (dst / name).read_bytes() == (src / name).read_bytes(), name
    assert os.access(dst / "scripts" / "launch.sh", os.X_OK)


def test_report_json_is_complete(tmp_path):
    src, dst = _port(tmp_path)
    report = json.loads((dst / "porter-report" / "report.json").read_text())
    assert report["schema_version"] == "1.0" and report["target"] == "2.13.0"
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["legacy_py2.py"]["outcome"] == "error"
    assert by_path["model.py"]["outcome"] == "flagged"  # its SDPA call gets PY415's advice; its bytes are kept
    assert {f["rule_id"] for f in by_path["model.py"]["findings"]} == {"PY415"}
    kernel = by_path["kernels/fused_gelu.cu"]
    assert {f["rule_id"] for f in kernel["findings"]} == {"CRT103", "KRN302", "NAT002"}  # header, scaffold, kernel
    assert "kernels/fused_gelu_ascendc/fused_gelu.asc" in kernel["generated"]
    converted = [f for f in by_path["train.py"]["findings"] if f["status"] == "converted"]
    assert all(f["span"]["line"] >= 1 and f["original"] and f["replacement"] is not None for f in converted
               if f["rule_id"] != "PY001")
    assert (dst / "porter-report" / "rules" / "PY201.md").is_file()


def test_every_ported_python_file_still_compiles(tmp_path):
    _, dst = _port(tmp_path)
    for path in dst.rglob("*.py"):
        if path.name != "legacy_py2.py":
            compile(path.read_text(), str(path), "exec")


def test_porting_the_output_again_changes_nothing(tmp_path):
    _, dst = _port(tmp_path)
    shutil.rmtree(dst / "porter-report")
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["port", str(dst), "-o", str(again), "--no-parity", "-q"])
    assert result.exit_code == 0, result.output
    shutil.rmtree(again / "porter-report")
    _assert_same_tree(filecmp.dircmp(dst, again))


def test_python_m_porter_runs_without_a_terminal(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PROJECT, src)
    done = subprocess.run([sys.executable, "-m", "porter", "port", str(src), "-o", str(tmp_path / "o"), "--no-parity"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    assert "converted" in done.stderr


@pytest.mark.parametrize("threshold, code", [("never", 0), ("unsupported", 1), ("review", 1)])
def test_fail_on_sets_the_exit_code(tmp_path, threshold, code):
    _port(tmp_path, "--fail-on", threshold, exit_code=code)
