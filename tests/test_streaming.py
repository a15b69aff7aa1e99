"""Results are written as they arrive: the parent never holds the whole new tree."""

from __future__ import annotations

from porter.engine import PortOptions
from porter.findings import Outcome
from porter.pipeline import PortRequest, run

LINES = "x{n} = torch.zeros({n}).cuda()\ntorch.cuda.synchronize()\n"


def test_each_file_is_written_before_the_next_arrives_and_its_new_bytes_dropped(tmp_path, ruleset):
    source = tmp_path / "src"
    source.mkdir()
    for index in range(12):
        body = "".join(LINES.format(n=n) for n in range(40))
        (source / f"m{index}.py").write_text(f"import torch\n{body}")
    seen, held = [], []

    def arrived(result):
        held.append(sum(r.new_bytes is not None for r in seen))
        assert (tmp_path / "out" / result.path).is_file()  # already written
        seen.append(result)

    report = run(PortRequest(source, tmp_path / "out", ruleset, options=PortOptions(jobs=1), parity=False),
                 on_result=arrived)
    assert [r.outcome for r in report.files] == [Outcome.CONVERTED] * 12
    assert held == [0] * 12
    assert all(r.diff for r in report.files)  # the report keeps what it shows
    assert b"npu" in (tmp_path / "out" / "m0.py").read_bytes()


def test_a_rerun_into_the_same_output_rewrites_only_what_differs(tmp_path, ruleset):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    (source / "notes.txt").write_text("plain\n")
    out = tmp_path / "out"

    def port():
        run(PortRequest(source, out, ruleset, force=True, options=PortOptions(jobs=1), parity=False))

    port()
    stamps = {name: (out / name).stat().st_ino for name in ("train.py", "notes.txt")}
    (out / "notes.txt").write_text("edited in the output\n")
    port()
    assert (out / "train.py").stat().st_ino == stamps["train.py"]  # identical: not written again
    assert (out / "notes.txt").read_text() == "plain\n"  # differed: replaced by the source's copy
    assert b"npu" in (out / "train.py").read_bytes()


def test_a_rerun_writes_no_file_again_that_it_would_write_the_same(tmp_path, ruleset):
    """Generated kernel files and the report's rule pages included: each write is an fsync. (report.json and
    report.md are written twice by every run: first as the interim report of an incomplete run.)"""
    import shutil
    from pathlib import Path

    source = tmp_path / "src"
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "native" / "ext_elementwise", source)
    out = tmp_path / "out"

    def port():
        run(PortRequest(source, out, ruleset, force=True, options=PortOptions(jobs=1), parity=False))
        return {p.relative_to(out).as_posix(): p.stat().st_ino for p in sorted(out.rglob("*"))
                if p.is_file() and p.name not in ("report.json", "report.md")}

    first = port()
    assert any("_ascendc/" in name for name in first) and any(name.startswith("porter-report/rules/") for name in first)
    assert port() == first
