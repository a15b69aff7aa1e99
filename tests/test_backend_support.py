"""porter.backend_support.scan reads a file's NPU evidence only where an identifier names the target or a quoted
target value appears: what it finds must be what reading every file finds."""

import hashlib
import re
from pathlib import Path

from porter.backend_support import _COMMENT, _WORD, _target_evidence, scan
from porter.discover import SourceFile
from porter.python.backends import markers_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CRAFTED = {
    "switch_only.py": "import torch\ndef pick(d):\n    if d == 'npu':\n        return torch.device('hpu')\n",
    "input_only.py": "import torch\ndef f(inputs):\n    return inputs.cuda()  # hpu\n",  # `npu` inside `inputs` only
    "camel.py": "from hccl_ext import Backend\nclass AscendRunner:\n    pass\nassert backend != \"hccl:0\"\n",
}


def _every_file(root: Path, sources: list[SourceFile], ruleset):
    """The scan without its shortcuts: every file the backend-word prefilter lets through is read in full."""
    markers = markers_of(ruleset)
    words = {w for b in markers.others if b.dispatch for w in b.segments}
    prefilter = re.compile("|".join(map(re.escape, words)))
    named, evidence = set(), []
    for source in sources:
        text = _COMMENT.sub("", (root / source.relpath).read_text(encoding="utf-8", errors="replace"))
        if prefilter.search(text.lower()):
            named.update(b for word in _WORD.findall(text) for b in markers.name_backends(word, dispatch_only=True))
            evidence += _target_evidence(source.relpath, text, markers)
    return frozenset(named - {markers.source.name}), evidence


def test_the_scan_finds_what_reading_every_file_finds(tmp_path, ruleset):
    for name, text in CRAFTED.items():
        (tmp_path / name).write_text(text)
    roots = [(FIXTURES, sorted(FIXTURES.rglob("*.py"))), (tmp_path, sorted(tmp_path.glob("*.py")))]
    for root, paths in roots:
        sources = [SourceFile(path.relative_to(root).as_posix(), "python", True) for path in paths]
        assert scan(root, sources, ruleset) == _every_file(root, sources, ruleset)
    named, evidence = scan(tmp_path, [SourceFile(name, "python", True) for name in CRAFTED], ruleset)
    assert {(e.path, e.line) for e in evidence} == {("switch_only.py", 3), ("camel.py", 1), ("camel.py", 2),
                                                    ("camel.py", 4)}
    _, from_fixtures = scan(FIXTURES, [SourceFile(p.relative_to(FIXTURES).as_posix(), "python", True)
                                       for p in sorted(FIXTURES.rglob("*.py"))], ruleset)
    assert {e.what.split()[0] for e in from_fixtures} == {"imports", "compares", "defines"}


def test_a_rerun_scans_only_the_files_that_changed(tmp_path, ruleset, monkeypatch):
    from porter.backend_support import _Scanner

    root = tmp_path / "src"
    root.mkdir()
    for name, text in CRAFTED.items():
        (root / name).write_text(text)
    sources = [SourceFile(name, "python", True) for name in sorted(CRAFTED)]
    cache_dir = tmp_path / "cache"
    scanned = []
    scan_file = _Scanner.scan_file
    monkeypatch.setattr(_Scanner, "scan_file",
                        lambda self, path, text: scanned.append(path) or scan_file(self, path, text))
    fresh = scan(root, sources, ruleset)
    scanned.clear()
    assert scan(root, sources, ruleset, cache_dir) == fresh and len(scanned) == 3
    scanned.clear()
    assert scan(root, sources, ruleset, cache_dir) == fresh and scanned == []
    (root / "input_only.py").write_text("import torch_npu\n")
    changed = scan(root, sources, ruleset, cache_dir)
    assert scanned == ["input_only.py"] and changed == scan(root, sources, ruleset) != fresh
    scanned.clear()
    for entry in cache_dir.rglob("*.json"):
        entry.write_bytes(hashlib.sha256(b"[1]").hexdigest().encode() + b"\n[1]")  # intact, but not a scan
    assert scan(root, sources, ruleset, cache_dir) == changed and len(scanned) == 3


def test_bytes_are_read_as_text_mode_reads_them(tmp_path):
    from porter.backend_support import _as_text

    data = "a\r\nb\rc\n\xe9".encode() + b"\xff\r"
    (tmp_path / "f.py").write_bytes(data)
    assert _as_text(data) == (tmp_path / "f.py").read_text(encoding="utf-8", errors="replace")
