"""`porter doctor` in fake machines built from the torch-npu 2.13.0 wheel's real metadata (tests/fake_envs), and
`porter explain` on rule IDs, report places and the ACL/HCCL codes snapshotted from the wheel's headers."""

import json
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

from porter.cli import main
from porter.doctor import FAIL, OK, WARN, Machine, diagnose
from porter.explain import LIKELY_CAUSES, ACL_CLASSES, error_codes, find_error
from porter.surface import load_surface
from tests.test_report_views import sample_report

WHEEL_METADATA = Path(__file__).resolve().parent / "fake_envs" / "torch_npu-2.13.0.dist-info"
TORCH_VERSION = metadata.version("torch")


def _site(tmp_path, npu_metadata: str | None = None, torch_npu_init: str | None = None) -> Path:
    """A site-packages holding torch's dist-info (this machine's torch) and torch_npu's from the real wheel."""
    site = tmp_path / "site"
    torch_info = site / f"torch-{TORCH_VERSION}.dist-info"
    torch_info.mkdir(parents=True)
    (torch_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {TORCH_VERSION}\n")
    npu_info = site / "torch_npu-2.13.0.dist-info"
    shutil.copytree(WHEEL_METADATA, npu_info)
    if npu_metadata is not None:
        (npu_info / "METADATA").write_text(npu_metadata)
    if torch_npu_init is not None:
        (site / "torch_npu").mkdir()
        (site / "torch_npu" / "__init__.py").write_text(torch_npu_init)
    return site


def _cann(tmp_path, version="8.5.RC1"):
    home = tmp_path / "Ascend" / "ascend-toolkit" / "latest"
    (home / "x86_64-linux").mkdir(parents=True)
    (home / "x86_64-linux" / "ascend_toolkit_install.info").write_text(f"package_name=Ascend-cann-toolkit\nversion={version}\n")
    return home


def _by_name(checks):
    return {c.name: c for c in checks}


# torch's backend autoload calls torch_npu:_autoload (the wheel's entry point) during `import torch`
HEALTHY = ("import types, torch\n__version__ = '2.13.0'\n"
           "torch.npu = types.SimpleNamespace(device_count=lambda: 8)\n"
           "def _autoload():\n    pass\n")
NO_CANN = "raise ImportError('libhccl.so: cannot open shared object file: No such file or directory')\n"


def test_healthy_machine(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ASCEND_TOOLKIT_HOME": str(_cann(tmp_path)), "HCCL_CONNECT_TIMEOUT": "600"}
    checks = _by_name(diagnose(Machine(env, [str(_site(tmp_path, torch_npu_init=HEALTHY))]), "2.13.0"))
    assert checks["torch_npu"].detail == "2.13.0"  # read from the wheel's METADATA, never imported here
    assert checks["torch / torch_npu pairing"].state == OK and "2.13.0" in checks["torch / torch_npu pairing"].detail
    assert checks["CANN"].state == OK and "8.5.RC1" in checks["CANN"].detail
    assert checks["torch_npu import"].state == OK and checks["NPUs visible"].detail == "8"
    assert checks["HCCL environment"].detail == "HCCL_CONNECT_TIMEOUT"
    assert "torch_npu" not in sys.modules


def test_broken_cann_and_stale_cuda_environment(tmp_path):
    env = {"PATH": "/nonexistent", "CUDA_VISIBLE_DEVICES": "0,1", "NCCL_DEBUG": "INFO"}
    checks = _by_name(diagnose(Machine(env, [str(_site(tmp_path, torch_npu_init=NO_CANN))]), "2.13.0"))
    assert checks["CANN"].state == FAIL and "set_env.sh" in checks["CANN"].fix
    assert checks["torch_npu import"].state == FAIL and "libhccl.so" in checks["torch_npu import"].detail
    assert "set_env.sh" in checks["torch_npu import"].fix
    assert checks["device selection"].fix == "export ASCEND_RT_VISIBLE_DEVICES=0,1"
    assert checks["HCCL environment"].state == WARN and "NCCL_DEBUG" in checks["HCCL environment"].detail
    assert checks["g++"].state == WARN


def test_version_mismatches_name_the_exact_fix(tmp_path):
    real = (WHEEL_METADATA / "METADATA").read_text()
    older = real.replace("Version: 2.13.0", "Version: 2.12.0").replace("torch==2.13.0.*", "torch==2.12.0.*")
    env = {"PATH": "", "ASCEND_HOME_PATH": str(_cann(tmp_path))}
    checks = _by_name(diagnose(Machine(env, [str(_site(tmp_path, npu_metadata=older, torch_npu_init=HEALTHY))]),
                               "2.13.0"))
    pairing = checks["torch / torch_npu pairing"]
    assert pairing.state == FAIL and 'pip install "torch==2.12.0.*"' in pairing.fix
    assert checks["port target"].state == WARN and "--target 2.12.0" in checks["port target"].fix


def test_missing_torch_npu(tmp_path):
    site = tmp_path / "empty"
    site.mkdir()
    checks = _by_name(diagnose(Machine({"PATH": ""}, [str(site)]), "2.13.0"))
    assert checks["torch_npu"].state == FAIL and checks["torch_npu"].fix == 'pip install "torch-npu==2.13.0"'
    assert "torch_npu import" not in checks


def test_doctor_command_exit_code():
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code in (0, 1) and "torch_npu" in result.output
    assert (result.exit_code == 1) == ("[FAIL]" in result.output)


def test_error_codes_come_from_the_wheel_headers():
    codes = error_codes("2.13.0")
    assert {c.family for c in codes} == {"acl", "hccl"} and len(codes) > 200
    (context_null,) = find_error("107002")
    assert context_null.name == "ACL_ERROR_RT_CONTEXT_NULL" and context_null.header.endswith("rt_error_codes.h")
    assert [c.name for c in find_error("hccl 9")] == ["HCCL_E_TIMEOUT"]
    assert [c.value for c in find_error("acl_error_rt_aicore_exception")] == [507015]
    names = {c.name for c in codes}
    assert set(LIKELY_CAUSES) <= names  # causes are only written for codes the headers define
    assert set(ACL_CLASSES) >= {str(c.value)[0] for c in codes if c.family == "acl" and len(str(c.value)) == 6}


def test_advice_names_exist_in_the_torch_npu_snapshot():
    from porter import explain, doctor

    surface = load_surface("torch_npu", "2.13.0")
    text = Path(explain.__file__).read_text() + Path(doctor.__file__).read_text()
    error_names = {c.name for c in error_codes("2.13.0")}
    for name in set(re.findall(r"\b(?:ASCEND|HCCL|PYTORCH_NPU)_[A-Z_]+\b", text)) - error_names:
        assert surface.has("env_vars", name), name
    for name in set(re.findall(r"\btorch\.npu\.\w+", text)):
        assert surface.has_python(name), name


def test_explain_command(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["explain", "107002"])
    assert result.exit_code == 0 and "ACL_ERROR_RT_CONTEXT_NULL" in result.output and "set_device" in result.output
    page = runner.invoke(main, ["explain", "py201"])
    assert page.exit_code == 0 and page.output.startswith("# PY201")
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(sample_report().to_dict()))
    place = runner.invoke(main, ["explain", "copy_b/k.cu:20", "--report", str(saved)])
    assert place.exit_code == 0 and "__global__ void shift" in place.output and "scale" not in place.output
    assert runner.invoke(main, ["explain", "XYZ"]).exit_code == 2
