"""The parity cases `porter port --fuse` adds: the written-out product against the fused call, run as a user runs
the suite (on the CPU the fused call is porter's model of the operator, so the argument translation is checked)."""

import json
import shutil
import subprocess
import sys

from click.testing import CliRunner

from porter.cli import main
from porter.parity.cli import parity
from tests.parity.parity_helpers import REPO

FIXTURE = REPO / "fixtures" / "rules" / "PY416" / "before.py"


def _port(tmp_path, *flags):
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    shutil.copyfile(FIXTURE, source / "norm.py")
    result = CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-cache", "-q", *flags])
    assert result.exit_code == 0, result.output
    return out / "parity"


def test_each_fusion_gets_a_case_and_a_wrong_translation_fails(tmp_path):
    suite = _port(tmp_path, "--fuse")
    module = (suite / "fused_cases.py").read_text()
    assert "fused_cases" in (suite / "parity.yaml").read_text()
    assert module.count("@parity_case(") == 2  # the two products PY416 rewrote in the fixture, nothing else
    assert "from torch import rsqrt" in module and "epsilon = 1e-06  # `self.eps` at run time" in module
    runner = CliRunner()
    assert runner.invoke(parity, ["record", str(suite), "--device", "cpu"]).exit_code == 0
    report = tmp_path / "p.json"
    passed = runner.invoke(parity, ["compare", str(suite), "--device", "cpu", "--json", str(report)])
    assert passed.exit_code == 0, passed.output
    assert {c["status"] for c in json.loads(report.read_text())["cases"]} == {"pass"}

    (suite / "fused_cases.py").write_text(module.replace("epsilon=1e-6)[0]", "epsilon=0.25)[0]"))
    failed = subprocess.run([sys.executable, "-m", "porter", "parity", "compare", str(suite), "--device", "cpu",
                             "--json", str(report)], capture_output=True, text=True)  # a fresh import of the module
    statuses = {c["case"]: c["status"] for c in json.loads(report.read_text())["cases"]}
    assert failed.returncode == 1 and sorted(statuses.values()) == ["fail", "fail", "pass", "pass"], statuses


def test_without_fuse_there_is_no_fused_module(tmp_path):
    suite = _port(tmp_path)
    assert not (suite / "fused_cases.py").exists()
