from pathlib import Path
"""CLI behaviour: refusals, dry runs, diffs, in-place with backup, include/exclude, user rules, the catalogue."""

import shutil
import subprocess

from click.testing import CliRunner

from porter.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "fixtures" / "projects" / "mini_gpt"


def _src(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PROJECT, src)
    return src


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_refuses_output_inside_source(tmp_path):
    src = _src(tmp_path)
    result = invoke("port", src, "-o", src / "npu")
    assert result.exit_code == 2 and "inside the source" in result.output


def test_refuses_non_empty_output_unless_forced(tmp_path):
    src = _src(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert invoke("port", src, "-o", out, "--no-parity").exit_code == 2
    assert invoke("port", src, "-o", out, "--no-parity", "--force").exit_code == 0
    assert (out / "keep.txt").read_text() == "mine"


def test_dry_run_and_diff_write_nothing(tmp_path):
    src = _src(tmp_path)
    out = tmp_path / "out"
    assert invoke("port", src, "-o", out, "--dry-run").exit_code == 0
    result = invoke("port", src, "--diff")
    assert result.exit_code == 0
    assert not out.exists()
    assert "+++ b/train.py" in result.output and '-    parser.add_argument("--backend", default="nccl")' in result.output


def test_in_place_keeps_a_backup_and_refuses_dirty_git_trees(tmp_path):
    src = _src(tmp_path)
    original = (src / "train.py").read_text()
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    result = invoke("port", src, "--in-place", "--no-parity")
    assert result.exit_code == 2 and "uncommitted" in result.output
    result = invoke("port", src, "--in-place", "--no-parity", "--force")
    assert result.exit_code == 0, result.output
    assert "torch.npu" in (src / "train.py").read_text()
    backups = list(tmp_path.glob("src.porter-backup-*"))
    assert len(backups) == 1 and (backups[0] / "train.py").read_text() == original
    assert (src / "porter-report" / "report.json").is_file()


def test_exclude_copies_without_porting(tmp_path):
    src = _src(tmp_path)
    out = tmp_path / "out"
    assert invoke("port", src, "-o", out, "--exclude", "train.py", "--no-parity").exit_code == 0
    assert (out / "train.py").read_bytes() == (src / "train.py").read_bytes()
    assert "npu" in (out / "sample.py").read_text()


def test_gitignored_files_are_copied_unless_skipped(tmp_path):
    src = _src(tmp_path)
    (src / "ckpt.pt").write_bytes(b"weights")
    out = tmp_path / "out"
    assert invoke("port", src, "-o", out, "--no-parity").exit_code == 0
    assert (out / "ckpt.pt").read_bytes() == b"weights"
    assert invoke("port", src, "-o", tmp_path / "some", "--no-parity", "--skip-ignored").exit_code == 0
    assert not (tmp_path / "some" / "ckpt.pt").exists()


def test_output_naming_a_file_is_a_usage_error(tmp_path):
    src = _src(tmp_path)
    target = tmp_path / "out.txt"
    target.write_text("mine")
    for output in (target, target / "sub"):
        for extra in ((), ("--force",)):
            result = invoke("port", src, "-o", output, "--no-parity", *extra)
            assert result.exit_code == 2, result.output
            assert "must be a directory" in result.output and isinstance(result.exception, SystemExit)
    assert target.read_text() == "mine"


def _mystery_project(tmp_path, rule_extra=""):
    """A source tree calling an API no built-in rule knows, and a user rule file mapping it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import torch\nx = torch.cuda.mystery_api()\n")
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: USR001\n    name: mystery\n    kind: rename\n    category: device-api\n"
        f"    summary: in-house mapping\n    doc: ours\n{rule_extra}"
        "    entries:\n      - {pattern: torch.cuda.mystery_api, replacement: torch.npu.synchronize}\n"
    )
    return src, rules


def test_user_rules_file_adds_a_mapping(tmp_path):
    src, rules = _mystery_project(tmp_path)
    assert invoke("port", src, "-o", tmp_path / "out", "--rules", rules, "--no-parity").exit_code == 0
    assert "torch.npu.synchronize()" in (tmp_path / "out" / "a.py").read_text()


def test_user_rule_overriding_a_builtin_mapping_changes_the_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: PY101\n    name: held-back\n    kind: rename\n    category: device-api\n"
        "    summary: we review synchronisation by hand\n    doc: ours\n"
        "    entries:\n      - {pattern: torch.cuda.synchronize, status: review}\n"
    )
    assert invoke("port", src, "-o", tmp_path / "built_in", "--no-parity").exit_code == 0
    assert invoke("port", src, "-o", tmp_path / "mine", "--rules", rules, "--no-parity").exit_code == 0
    assert "torch.npu.synchronize()" in (tmp_path / "built_in" / "a.py").read_text()
    assert (tmp_path / "mine" / "a.py").read_text() == "import torch\ntorch.cuda.synchronize()\n"


def test_bad_user_rules_are_a_usage_error(tmp_path):
    rules = tmp_path / "bad.yaml"
    rules.write_text("rules:\n  - id: nope\n")
    result = invoke("port", tmp_path, "--dry-run", "--rules", rules)
    assert result.exit_code == 2 and "bad.yaml" in result.output


def test_unknown_target_is_a_usage_error(tmp_path):
    result = invoke("port", tmp_path, "--dry-run", "--target", "1.0.0")
    assert result.exit_code == 2 and "supported" in result.output


def test_rules_list_and_show():
    listing = invoke("rules", "list")
    assert listing.exit_code == 0 and "PY201" in listing.output and "NAT001" in listing.output
    page = invoke("rules", "show", "PY111")
    assert page.exit_code == 0 and "torch.npu.matmul.allow_hf32" in page.output and "## Example" in page.output
    assert invoke("rules", "show", "XX999").exit_code == 2


def test_analyze_prints_effort_summary_and_writes_no_tree(tmp_path):
    src = _src(tmp_path)
    report_dir = tmp_path / "rep"
    result = invoke("analyze", src, "--report-dir", report_dir)
    assert result.exit_code == 0
    assert "estimated manual items" in result.output and "by category" in result.output
    assert (report_dir / "report.md").is_file()
    assert not (src / "porter-report").exists()


def test_rules_carry_torch_npu_version_ranges(tmp_path):
    src, rules = _mystery_project(tmp_path, rule_extra="    until: '2.13.0'\n")
    result = invoke("port", src, "--diff", "--rules", rules, "--target", "2.13.0")
    assert result.exit_code == 0 and "torch.npu.synchronize" not in result.output


def test_in_place_rerun_does_not_port_its_own_report(tmp_path):
    src = _src(tmp_path)
    assert invoke("port", src, "--in-place", "--no-parity").exit_code == 0
    assert invoke("port", src, "--in-place", "--no-parity", "--force").exit_code == 0
    report = (src / "porter-report" / "report.json").read_text()
    assert '"path": "porter-report/' not in report
