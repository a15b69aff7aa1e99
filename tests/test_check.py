"""`porter check`: host C++ syntax-checked against the real torch and torch-npu headers, the wheel found without
installing it. The full run over every C++ fixture's output needs the torch-npu wheel (.ci/run fetches it into
build/wheels/); without it that test is skipped with the command that fetches it."""

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from porter import check
from porter.cli import main
from porter.native import port_native

ROOT = Path(__file__).resolve().parent.parent
NATIVE_PROJECTS = ["cmake_lib", "ext_host", "nccl_allreduce", "runtime_streams"]
needs_compiler = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ on PATH")


def _real_wheel() -> str | None:
    given = os.environ.get(check.ENV_VAR)
    if given:
        return given
    found = sorted((ROOT / "build" / "wheels").glob("torch_npu-2.13.0-*.whl"))
    return str(found[-1]) if found else None


def _fake_wheel(tmp_path: Path) -> Path:
    """A wheel whose only header declares one ACL function, enough to tell good code from bad."""
    wheel = tmp_path / "torch_npu-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("torch_npu/include/acl/acl.h", "#pragma once\nint aclrtSetDevice(int deviceId);\n")
        archive.writestr("torch_npu/__init__.py", "")
    return wheel


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "tree"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@needs_compiler
def test_good_and_bad_files_are_told_apart(tmp_path):
    root = _tree(tmp_path, {
        "src/good.cpp": '#include <acl/acl.h>\n#include "local.h"\nint f() { return aclrtSetDevice(LOCAL); }\n',
        "src/local.h": "#define LOCAL 0\n",
        "src/bad.cpp": "#include <acl/acl.h>\nint g() { return aclrtSetDevice(); }\n",
        "porter-report/ignored.cpp": "this is not C++\n",
    })
    results = {r.path: r for r in check.check_tree(root, str(_fake_wheel(tmp_path)))}
    assert set(results) == {"src/good.cpp", "src/bad.cpp"}
    assert results["src/good.cpp"].ok and not results["src/bad.cpp"].ok
    assert "aclrtSetDevice" in results["src/bad.cpp"].output


@needs_compiler
def test_cli_exit_codes(tmp_path):
    wheel = str(_fake_wheel(tmp_path))
    root = _tree(tmp_path, {"a.cpp": "#include <acl/acl.h>\nint f() { return aclrtSetDevice(0); }\n"})
    ok = CliRunner().invoke(main, ["check", str(root), "--torch-npu", wheel])
    assert ok.exit_code == 0 and "1 host C++ file(s) checked, 0 failed" in ok.output
    (root / "b.cpp").write_text("int g() { return undeclared(); }\n")
    failed = CliRunner().invoke(main, ["check", str(root), "--torch-npu", wheel])
    assert failed.exit_code == 1 and "FAIL b.cpp" in failed.output


def test_missing_wheel_prints_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv(check.ENV_VAR, raising=False)
    monkeypatch.setattr(check, "_installed_torch_npu", lambda: None)
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 2 and check.FETCH_COMMAND in result.output


def test_unpacked_wheel_directory_is_accepted(tmp_path):
    (tmp_path / "unpacked" / "torch_npu" / "include").mkdir(parents=True)
    with check.torch_npu_root(str(tmp_path / "unpacked")) as root:
        assert root == tmp_path / "unpacked"
    with pytest.raises(check.CheckError):
        with check.torch_npu_root(str(tmp_path)):
            pass


def _cpp_fixture_outputs(tmp_path: Path) -> Path:
    """Every C++ fixture's ported output in one tree: rule fixtures (but those marked `porter-check: skip`, whose
    point is a construct left for a human) and the native projects' ported host code."""
    root = tmp_path / "outputs"
    for before in sorted((ROOT / "fixtures" / "rules").glob("*/before.cpp")):
        if "porter-check: skip" in before.read_text():
            continue
        ported = port_native(before.name, before.read_bytes(), _ruleset())
        target = root / "rules" / before.parent.name / "after.cpp"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ported.new_bytes if ported.new_bytes is not None else before.read_bytes())
    for project in NATIVE_PROJECTS:
        shutil.copytree(ROOT / "fixtures" / "native" / f"{project}.expected", root / project)
    return root


def _ruleset():
    from porter.ruleset import load_ruleset

    return load_ruleset("2.13.0")


@pytest.mark.slow
@needs_compiler
def test_every_cpp_fixture_output_compiles_against_the_real_headers(tmp_path):
    wheel = _real_wheel()
    if wheel is None:
        pytest.skip(f"no torch-npu wheel in build/wheels/ or ${check.ENV_VAR}: {check.FETCH_COMMAND.replace('./wheels', 'build/wheels')}")
    root = _cpp_fixture_outputs(tmp_path)
    results = check.check_tree(root, wheel)
    assert len(results) >= 12  # 10 rule fixtures, 5 project sources
    failures = {r.path: r.output for r in results if not r.ok}
    assert not failures, failures
