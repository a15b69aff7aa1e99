"""[tool.porter] in the ported repository's pyproject.toml sets defaults; the command line wins."""

import shutil
from pathlib import Path

from click.testing import CliRunner

from porter.cli import main

PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "mini_gpt"


def _project(tmp_path, table: str) -> Path:
    src = tmp_path / "src"
    shutil.copytree(PROJECT, src, symlinks=True)
    (src / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.porter]\n{table}")
    return src


def test_config_sets_fail_on_formats_and_exclude(tmp_path):
    src = _project(tmp_path, 'fail-on = "unsupported"\nformat = ["sarif"]\nexclude = ["kernels/**", "config.yaml"]\n')
    result = CliRunner().invoke(main, ["analyze", str(src), "--report-dir", str(tmp_path / "rep"), "-q"])
    assert result.exit_code == 1  # legacy_py2.py and scripts/ are still unsupported
    assert [p.name for p in (tmp_path / "rep").glob("report.*")] == ["report.sarif"]
    assert "kernels/fused_gelu.cu" not in (tmp_path / "rep" / "report.sarif").read_text()


def test_command_line_wins(tmp_path):
    src = _project(tmp_path, 'fail-on = "unsupported"\n')
    assert CliRunner().invoke(main, ["analyze", str(src), "--fail-on", "never", "-q"]).exit_code == 0


def test_rule_files_are_relative_to_the_pyproject(tmp_path):
    src = _project(tmp_path, 'rules = ["mine.yaml"]\n')
    (src / "a.py").write_text("import torch\nx = torch.cuda.mystery_api()\n")
    (src / "mine.yaml").write_text(
        "rules:\n  - id: USR001\n    name: mystery\n    kind: rename\n    category: device-api\n"
        "    summary: in-house mapping\n    doc: ours\n"
        "    entries:\n      - {pattern: torch.cuda.mystery_api, replacement: torch.npu.synchronize}\n")
    result = CliRunner().invoke(main, ["port", str(src), "-o", str(tmp_path / "out"), "--no-parity", "-q"])
    assert result.exit_code == 0, result.output
    assert "torch.npu.synchronize()" in (tmp_path / "out" / "a.py").read_text()


def test_bad_config_is_a_usage_error_naming_the_key(tmp_path):
    src = _project(tmp_path, 'fail_on = "unsupported"\n')
    result = CliRunner().invoke(main, ["analyze", str(src), "-q"])
    assert result.exit_code == 2 and "fail_on" in result.output and "pyproject.toml" in result.output
    src2 = _project(tmp_path / "b", 'fail-on = "sometimes"\n')
    assert CliRunner().invoke(main, ["analyze", str(src2), "-q"]).exit_code == 2



def _doc_commands(marker: str) -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text()
    return [line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line]


def test_documented_ci_and_pre_commit_commands_run(tmp_path, monkeypatch):
    src = _project(tmp_path, "")
    monkeypatch.chdir(src)
    (ci,) = _doc_commands("- run: porter ")
    result = CliRunner().invoke(main, ci.split())
    assert result.exit_code == 1, result.output  # mini_gpt still has unsupported findings
    assert (src / "porter-report" / "report.sarif").is_file() and (src / "porter-report" / "report.html").is_file()
    (hook,) = _doc_commands("entry: porter ")
    assert CliRunner().invoke(main, hook.split()).exit_code == 1
