"""Files .gitignore excludes: copied unchanged and counted by `port -o` (or left out and listed with
--skip-ignored), never read by `analyze`; porter's own report folder in a source tree is never part of it."""

import json
import os
from pathlib import Path

from click.testing import CliRunner

from porter.cli import main
from porter.discover import discover

CUDA_CODE = "import torch\nx = torch.zeros(1).cuda()\n"


def _tree(root: Path) -> Path:
    src = root / "src"
    (src / "build" / "lib").mkdir(parents=True)
    (src / ".gitignore").write_text("build/\n*.pt\n")
    (src / "train.py").write_text(CUDA_CODE)
    (src / "ckpt.pt").write_bytes(b"\x00weights")
    (src / "build" / "lib" / "gen.py").write_text(CUDA_CODE)  # ignored: must never be ported
    os.symlink("gen.py", src / "build" / "lib" / "link.py")
    return src


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _report(out: Path) -> dict:
    return json.loads((out / "porter-report" / "report.json").read_text())


def test_port_copies_ignored_files_unchanged_and_counts_them(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    result = invoke("port", src, "-o", out, "--no-parity")
    assert result.exit_code == 0, result.output
    assert "npu" in (out / "train.py").read_text()
    assert (out / "ckpt.pt").read_bytes() == b"\x00weights"
    assert (out / "build" / "lib" / "gen.py").read_text() == CUDA_CODE
    assert os.readlink(out / "build" / "lib" / "link.py") == "gen.py"
    report = _report(out)
    assert report["totals"]["ignored_copied"] == 3 and report["skipped"] == []
    assert {f["path"] for f in report["files"]} == {".gitignore", "train.py"}
    markdown = (out / "porter-report" / "report.md").read_text()
    assert "3 file(s) that .gitignore excludes were copied unchanged" in markdown


def test_skip_ignored_leaves_them_out_and_lists_them(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    assert invoke("port", src, "-o", out, "--no-parity", "--skip-ignored").exit_code == 0
    assert not (out / "ckpt.pt").exists() and not (out / "build").exists()
    report = _report(out)
    assert report["skipped"] == ["build/", "ckpt.pt"]
    assert report["totals"]["ignored_skipped"] == 2 and report["totals"]["ignored_copied"] == 0
    assert "`build/`" in (out / "porter-report" / "report.md").read_text()


def test_no_gitignore_ports_them(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    assert invoke("port", src, "-o", out, "--no-parity", "--no-gitignore").exit_code == 0
    assert "npu" in (out / "build" / "lib" / "gen.py").read_text()


def test_analyze_never_reads_ignored_files(tmp_path, monkeypatch):
    src = _tree(tmp_path)
    read = []
    original = Path.read_bytes

    def spy(path):
        read.append(path.name)
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", spy)
    result = invoke("analyze", src, "--report-dir", tmp_path / "rep", "-j", "1")
    assert result.exit_code == 0, result.output
    assert "train.py" in read and "gen.py" not in read and "ckpt.pt" not in read
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["skipped"] == ["build/", "ckpt.pt"]


def test_discovery_walks_ignored_folders_only_when_asked(tmp_path):
    src = _tree(tmp_path)
    files, left_out = discover(src)
    assert left_out == ["build/", "ckpt.pt"] and not any(f.ignored for f in files)
    files, left_out = discover(src, keep_ignored=True)
    ignored = {f.relpath: f for f in files if f.ignored}
    assert left_out == [] and set(ignored) == {"build/lib/gen.py", "build/lib/link.py", "ckpt.pt"}
    assert ignored["build/lib/link.py"].kind == "symlink" and not any(f.port for f in ignored.values())


def test_an_earlier_report_in_the_source_is_never_ported_copied_or_reported(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    old = src / "porter-report"
    (old / "rules").mkdir(parents=True)
    (old / "report.json").write_text('{"device": "cuda"}')
    (old / "rules" / "PY201.md").write_text("cuda")
    assert invoke("analyze", src, "--report-dir", tmp_path / "rep").exit_code == 0
    assert invoke("port", src, "-o", out, "--no-parity").exit_code == 0
    for report in (_report(out), json.loads((tmp_path / "rep" / "report.json").read_text())):
        assert not [f["path"] for f in report["files"] if f["path"].startswith("porter-report")]
        assert not [p for p in report["skipped"] if p.startswith("porter-report")]
    page = out / "porter-report" / "rules" / "PY201.md"
    assert not page.exists() or page.read_text() != "cuda"


def test_a_folder_merely_named_like_the_report_is_ported(tmp_path):
    src = tmp_path / "src"
    (src / "porter-report").mkdir(parents=True)
    (src / "porter-report" / "tool.py").write_text(CUDA_CODE)
    assert invoke("port", src, "-o", tmp_path / "out", "--no-parity").exit_code == 0
    assert "npu" in (tmp_path / "out" / "porter-report" / "tool.py").read_text()
