"""Bad input is one report entry per file; the run goes on and nothing is lost or half-written."""

import codecs
import errno
import os

import pytest

from porter.engine import PortOptions
from porter.findings import Outcome
from porter.pipeline import PortRequest, run


def _run(tmp_path, ruleset, **kwargs):
    return run(PortRequest(tmp_path / "src", tmp_path / "out", ruleset, parity=False, **kwargs))


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "good.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    return root


def _result(report, path):
    return next(r for r in report.files if r.path == path)


def test_python2_file_is_reported_and_copied(tmp_path, src, ruleset):
    (src / "old.py").write_text('import torch\nprint "cuda", torch.cuda.is_available()\n')
    report = _run(tmp_path, ruleset)
    old = _result(report, "old.py")
    assert old.outcome is Outcome.ERROR and old.findings[0].rule_id == "IO001" and "line 2" in old.error
    assert (tmp_path / "out" / "old.py").read_bytes() == (src / "old.py").read_bytes()
    assert _result(report, "good.py").outcome is Outcome.CONVERTED


def test_coding_cookie_bom_and_crlf_survive(tmp_path, src, ruleset):
    (src / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport torch\nname = 'caf\xe9'\nx = torch.ones(1).cuda()\n")
    (src / "bom.py").write_bytes(codecs.BOM_UTF8 + b"import torch\r\nx = torch.ones(1).cuda()\r\n")
    _run(tmp_path, ruleset)
    latin = (tmp_path / "out" / "latin.py").read_bytes()
    assert b"caf\xe9" in latin and b".npu()" in latin
    bom = (tmp_path / "out" / "bom.py").read_bytes()
    assert bom.startswith(codecs.BOM_UTF8) and b".npu()\r\n" in bom and b"\n" not in bom.replace(b"\r\n", b"")


def test_undecodable_file_is_reported(tmp_path, src, ruleset):
    (src / "bad.py").write_bytes(b"import torch\nx = '\xff\xfe cuda'\n")
    report = _run(tmp_path, ruleset)
    assert _result(report, "bad.py").outcome is Outcome.ERROR
    assert (tmp_path / "out" / "bad.py").read_bytes() == (src / "bad.py").read_bytes()


def test_binary_empty_and_large_files(tmp_path, src, ruleset):
    (src / "blob.py").write_bytes(b"\x00\x01cuda\x00")
    (src / "empty.py").write_bytes(b"")
    (src / "big.py").write_text("import torch\n" + "x = torch.zeros(1).cuda()\n" * 200)
    (src / "big.cu").write_text("// cudaMalloc\n" * 200)
    report = _run(tmp_path, ruleset, options=PortOptions(max_file_size=1000, jobs=1))
    assert _result(report, "blob.py").outcome is Outcome.ERROR
    assert _result(report, "empty.py").outcome is Outcome.UNCHANGED
    big = _result(report, "big.py")
    assert big.outcome is Outcome.ERROR and "max-file-size" in big.findings[0].message
    assert _result(report, "big.cu").kind == "native"
    for name in ("blob.py", "empty.py", "big.py"):
        assert (tmp_path / "out" / name).read_bytes() == (src / name).read_bytes()


def test_symlinks_stay_links_and_loops_do_not_hang(tmp_path, src, ruleset):
    (src / "alias.py").symlink_to("good.py")
    (src / "loop").symlink_to(src)
    (src / "dangling.py").symlink_to("missing.py")
    report = _run(tmp_path, ruleset)
    out = tmp_path / "out"
    assert os.readlink(out / "alias.py") == "good.py" and os.readlink(out / "loop") == str(src)
    assert not _result(report, "alias.py").findings
    assert _result(report, "dangling.py").findings[0].rule_id == "IO001"


def test_unreadable_file_is_reported_and_the_run_goes_on(tmp_path, src, ruleset, monkeypatch):
    (src / "secret.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    real_read = type(src).read_bytes

    def read_bytes(path):
        if path.name == "secret.py":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_read(path)

    monkeypatch.setattr(type(src), "read_bytes", read_bytes)
    report = _run(tmp_path, ruleset, options=PortOptions(jobs=1))
    assert "Permission denied" in _result(report, "secret.py").error
    assert _result(report, "good.py").outcome is Outcome.CONVERTED


def test_full_disk_is_reported_and_leaves_no_partial_file(tmp_path, src, ruleset, monkeypatch):
    (src / "other.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    real_replace = os.replace

    def replace(a, b):
        if str(b).endswith("good.py"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", replace)
    report = _run(tmp_path, ruleset, options=PortOptions(jobs=1))
    good = _result(report, "good.py")
    assert good.outcome is Outcome.ERROR and "No space left" in good.error
    out = tmp_path / "out"
    assert not (out / "good.py").exists()
    assert not list(out.glob("*.porter-tmp"))
    assert "npu" in (out / "other.py").read_text()


def test_a_porter_bug_on_one_file_does_not_stop_the_run(tmp_path, src, ruleset, monkeypatch):
    import porter.python.frontend

    (src / "weird.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    real = porter.python.frontend.port_python

    def flaky(source, rs, *args):
        if "synchronize" in source:
            raise RecursionError("maximum recursion depth exceeded")
        return real(source, rs, *args)

    monkeypatch.setattr(porter.python.frontend, "port_python", flaky)
    report = _run(tmp_path, ruleset, options=PortOptions(jobs=1))
    weird = _result(report, "weird.py")
    assert weird.outcome is Outcome.ERROR and "RecursionError" in weird.error
    assert weird.findings[0].message.startswith("porter itself failed")
    assert (tmp_path / "out" / "weird.py").read_bytes() == (src / "weird.py").read_bytes()
    assert _result(report, "good.py").outcome is Outcome.CONVERTED


def test_unwritable_report_directory_is_a_clear_error(tmp_path, src, ruleset, monkeypatch):
    import porter.pipeline

    def refuse(*_args):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(porter.pipeline, "write_reports", refuse)
    with pytest.raises(porter.pipeline.UsageError, match="cannot write the report"):
        _run(tmp_path, ruleset)


def test_prefilter_never_skips_a_file_a_rule_would_report(ruleset):
    """Every rule fixture's `before` must pass the cheap text test that decides whether a file is parsed."""
    from pathlib import Path

    from porter.python.prefilter import might_need_porting

    from porter.kinds import REGISTRY

    # repository-wide rules (the parity suite's) read every file, whatever the prefilter says
    per_file = {kind.name for kind in REGISTRY if kind.files != "repository"}
    kind_of = {rule.id: rule.kind for rule in ruleset.rules}
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
    checked = 0
    for before in fixtures.glob("*/before.py"):
        if kind_of.get(before.parent.name) not in per_file:
            continue
        checked += 1
        assert might_need_porting(ruleset, before.read_text()), before
    assert checked > 20
    assert might_need_porting(ruleset, "from torch import compile as c\nc(model)\n")
    assert might_need_porting(ruleset, "import torch\nx = y.to('CUDA')\n")
    assert not might_need_porting(ruleset, "import torch\nx = torch.zeros(3)\n")
