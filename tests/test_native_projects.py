"""Mini native projects (fixtures/native/): ported host code matches its snapshot, untouched files stay
byte-identical, porting the result again changes nothing, generated files are listed with their source."""

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from porter.cli import main

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "fixtures" / "native"
PROJECTS = ["cmake_lib", "ext_host", "nccl_allreduce", "runtime_streams"]  # the kernel fixtures have their own tests
UPDATE = os.environ.get("PORTER_UPDATE_SNAPSHOTS") == "1"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _port(source: Path, dst: Path) -> dict:
    result = CliRunner().invoke(main, ["port", str(source), "-o", str(dst), "--no-parity", "-q", "--force"])
    assert result.exit_code == 0, result.output
    return json.loads((dst / "porter-report" / "report.json").read_text())


@pytest.mark.parametrize("project", PROJECTS)
def test_ported_sources_match_snapshot(project, tmp_path):
    source, expected = NATIVE / project, NATIVE / f"{project}.expected"
    _port(source, tmp_path / "out")
    if UPDATE:
        shutil.rmtree(expected, ignore_errors=True)
        for name in _files(source):
            (expected / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "out" / name, expected / name)
    assert _files(expected) == _files(source)
    for name in _files(source):
        assert (tmp_path / "out" / name).read_bytes() == (expected / name).read_bytes(), name


@pytest.mark.parametrize("project", PROJECTS)
def test_files_without_cuda_are_byte_identical(project, tmp_path):
    source = NATIVE / project
    report = _port(source, tmp_path / "out")
    for entry in report["files"]:
        if entry["outcome"] in ("unchanged", "copied", "flagged"):
            assert (tmp_path / "out" / entry["path"]).read_bytes() == (source / entry["path"]).read_bytes()


@pytest.mark.parametrize("project", PROJECTS)
def test_porting_twice_changes_nothing(project, tmp_path):
    report = _port(NATIVE / f"{project}.expected", tmp_path / "again")
    assert [e["path"] for e in report["files"] if e["outcome"] == "converted"] == []


def test_generated_files_are_written_and_listed_with_their_source(tmp_path):
    report = _port(NATIVE / "ext_host", tmp_path / "out")
    sources = {e["path"]: e.get("generated", []) for e in report["files"]}
    for source, generated in sources.items():
        for path in generated:
            assert (tmp_path / "out" / path).is_file(), (source, path)
    assert not any(generated for path, generated in sources.items() if not path.endswith((".cu", ".cuh")))
