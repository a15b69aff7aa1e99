"""Multi-backend safety: the fixture library shaped like real multi-accelerator code ports without any behaviour
change the independent checker (porter.audit) can see, and the checker itself catches each kind of change."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from porter.audit import KINDS, audit_file, audit_tree, markers_from_rules
from porter.cli import main
from porter.discover import classify
from porter.engine import port_bytes

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "fixtures" / "projects"
PROJECT = PROJECTS / "multi_backend"
EXPECTED = PROJECTS / "multi_backend.expected"
RULE_FIXTURES = ROOT / "fixtures" / "rules"
UPDATE = os.environ.get("PORTER_UPDATE_SNAPSHOTS") == "1"
MARKERS = markers_from_rules()


def _port(tmp_path, project):
    dst = tmp_path / project.name
    result = CliRunner().invoke(main, ["port", str(project), "-o", str(dst), "--no-parity", "-q", "-j", "1"])
    assert result.exit_code == 0, result.output
    return dst, json.loads((dst / "porter-report" / "report.json").read_text())


def test_multi_backend_project_matches_snapshot(tmp_path):
    dst, _ = _port(tmp_path, PROJECT)
    shutil.rmtree(dst / "porter-report")
    if UPDATE:
        shutil.rmtree(EXPECTED, ignore_errors=True)
        shutil.copytree(dst, EXPECTED)
    comparison = filecmp.dircmp(dst, EXPECTED)
    stack = [comparison]
    while stack:
        current = stack.pop()
        assert not (current.left_only or current.right_only or current.diff_files), (
            current.left, current.left_only, current.right_only, current.diff_files)
        stack.extend(current.subdirs.values())


@pytest.mark.parametrize("project", [p for p in PROJECTS.iterdir() if p.is_dir() and "." not in p.name],
                         ids=lambda p: p.name)
def test_checker_finds_nothing_on_fixture_projects(tmp_path, project):
    dst, report = _port(tmp_path, project)
    assert [str(v) for v in audit_tree(project, dst, report, MARKERS)] == []


def _python_pairs():
    return [d for d in sorted(RULE_FIXTURES.iterdir()) if (d / "before.py").is_file()]


@pytest.mark.parametrize("fixture", _python_pairs(), ids=lambda d: d.name)
def test_checker_finds_nothing_on_rule_fixtures(fixture, ruleset):
    before = (fixture / "before.py").read_bytes()
    result = port_bytes("before.py", classify("before.py"), before, ruleset)
    after = (result.new_bytes or before).decode()
    findings = [f.to_dict() for f in result.findings]
    assert [str(v) for v in audit_file(f"{fixture.name}/before.py", before.decode(), after, findings, MARKERS)] == []


def test_report_says_the_repository_already_supports_npu(tmp_path):
    _, report = _port(tmp_path, PROJECT)
    support = report["backend_support"]
    assert support["target"] == "npu" and {"npu", "hpu"} <= set(support["other_backends"])
    assert {"path": "mbl/accelerator/npu_accelerator.py", "line": 2, "what": "imports `torch_npu`"} in support["evidence"]
    npu_files = {"mbl/accelerator/npu_accelerator.py", "mbl/accelerator/hpu_accelerator.py"}
    assert not [f for f in report["files"] if f["path"] in npu_files and f["outcome"] == "converted"]


def test_no_support_import_in_build_scripts_or_beside_a_guarded_torch(tmp_path):
    dst, report = _port(tmp_path, PROJECT)
    setup = (dst / "setup.py").read_text()
    assert "import torch_npu" not in setup.splitlines() and "torch.npu.is_available()" in setup
    builder = (dst / "mbl" / "op_builder" / "builder.py").read_text()
    assert "import torch_npu" not in builder and "torch.npu.synchronize()" in builder
    for path in ("setup.py", "mbl/op_builder/builder.py"):
        notes = [x for f in report["files"] if f["path"] == path for x in f["findings"] if x["rule_id"] == "PY001"]
        assert [n["status"] for n in notes] == ["review"], path


# The checker must be able to fail: one hand-made bad port per kind of behaviour change.
BAD_PORTS = {
    "duplicate-condition": ("if d == 'cuda':\n    a()\nelif d == 'npu':\n    b()\n",
                            "if d == 'npu':\n    a()\nelif d == 'npu':\n    b()\n"),
    "equal-values": ("NCCL = 'nccl'\nHCCL = 'hccl'\n", "NCCL = 'hccl'\nHCCL = 'hccl'\n"),
    "other-backend-edited": ("class HPU_Accelerator:\n    envs = ['CUDA_VISIBLE_DEVICES']\n",
                             "class HPU_Accelerator:\n    envs = ['ASCEND_RT_VISIBLE_DEVICES']\n"),
    "torch-npu-import": ("def f():\n    import torch\n    torch.cuda.synchronize()\n",
                         "import torch_npu\ndef f():\n    import torch\n    torch.npu.synchronize()\n"),
    "flipped-guard": ("if name == 'cuda':\n    v = torch.version.cuda\n",
                      "if name == 'npu':\n    v = torch.version.cuda\n"),
    "cuda-token-unreported": ("loc = f'cuda:{r}'\n", "loc = f'cuda:{r}'\n"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_checker_catches_each_kind_of_behaviour_change(kind):
    src, dst = BAD_PORTS[kind]
    kinds = {v.kind for v in audit_file("m.py", textwrap.dedent(src), textwrap.dedent(dst), [], MARKERS)}
    assert kind in kinds


def test_a_finding_covers_a_kept_cuda_token():
    src = "loc = f'cuda:{r}'\n"
    finding = {"span": {"line": 1, "column": 7, "end_line": 1, "end_column": 17}, "original": "f'cuda:{r}'"}
    assert audit_file("m.py", src, src, [finding], MARKERS) == []


def test_only_the_cuda_arm_of_another_backends_switch_is_ported(ruleset):
    source = textwrap.dedent('''\
        import torch


        def count_devices():
            if is_xla_available():
                return torch.cuda.device_count()
            elif torch.cuda.is_available():
                return torch.cuda.device_count()
            return 0
        ''')
    result = port_bytes("m.py", "python", source.encode(), ruleset)
    new = result.new_bytes.decode()
    assert "if is_xla_available():\n        return torch.cuda.device_count()" in new
    assert "elif torch.npu.is_available():\n        return torch.npu.device_count()" in new
    assert [f.rule_id for f in result.findings if f.status.value == "review"] == ["PY010"]


def test_a_veto_names_the_same_leftover_whatever_the_hash_seed():
    """The names of CUDA-only imports were a set of strings: which one a message named changed between processes."""
    source = textwrap.dedent('''\
        import torch
        try:
            import triton
            import triton.language as tl
            if triton.__version__ < "3" and not torch.cuda.is_available():
                FAST = False
            else:
                FAST = tl.constexpr(triton.__version__ >= "2")
        except ImportError:
            FAST = False
        ''')
    program = ("import sys; from porter.engine import port_bytes; from porter.ruleset import load_ruleset; "
               "from porter.surface import available_versions; "
               "r = port_bytes('m.py', 'python', sys.stdin.buffer.read(), "
               "load_ruleset(available_versions('torch_npu')[-1])); "
               "print([f.message for f in r.findings if f.rule_id == 'PY012'])")
    said = {subprocess.run([sys.executable, "-c", program], input=source.encode(), capture_output=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.decode() for seed in range(5)}
    assert len(said) == 1 and "keeps CUDA-specific `tl` (line 8)" in said.pop()
