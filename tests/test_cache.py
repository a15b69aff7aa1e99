"""The per-file result cache: a hit gives exactly the fresh result; any change to the inputs is a miss."""

import dataclasses
from pathlib import Path

from porter.cache import cache_key, load, store
from porter.discover import SourceFile
from porter.engine import PortOptions, port_file
from porter.ruleset import load_ruleset

SOURCE = "import torch\nx = torch.zeros(1).cuda()\ntorch.cuda.nvtx.range_push('a')\n"


def _port(root, ruleset, options):
    return port_file(root, SourceFile("a.py", "python", True), ruleset, options)


def test_a_hit_is_the_same_result_and_skips_porting(tmp_path, ruleset, monkeypatch):
    (tmp_path / "a.py").write_text(SOURCE)
    options = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    fresh = _port(tmp_path, ruleset, options)
    import porter.engine

    monkeypatch.setattr(porter.engine, "port_bytes", lambda *a: (_ for _ in ()).throw(AssertionError("ported")))
    cached = _port(tmp_path, ruleset, options)
    assert cached.to_dict() == fresh.to_dict() and cached.new_bytes == fresh.new_bytes


def test_changed_bytes_rules_or_modules_change_the_key(ruleset):
    key = cache_key(ruleset.content_hash, frozenset(), "python", b"x")
    other_rules = load_ruleset("2.13.0")
    other_rules = dataclasses.replace(other_rules, rules=other_rules.rules[:-1])
    assert key != cache_key(ruleset.content_hash, frozenset(), "python", b"y")
    assert key != cache_key(other_rules.content_hash, frozenset(), "python", b"x")
    assert key != cache_key(ruleset.content_hash, frozenset({"pkg"}), "python", b"x")
    assert key != cache_key(ruleset.content_hash, frozenset(), "native", b"x")


def test_a_corrupt_entry_is_a_miss(tmp_path, ruleset):
    (tmp_path / "a.py").write_text(SOURCE)
    cache = tmp_path / "cache"
    result = _port(tmp_path, ruleset, PortOptions(jobs=1, cache_dir=cache))
    entry = next(cache.rglob("*.json"))
    entry.write_text("{not json")
    key = entry.stem
    assert load(cache, key, "a.py") is None
    store(cache, key, result)
    assert load(cache, key, "b.py").path == "b.py"


def test_unwritable_cache_only_costs_speed(tmp_path, ruleset):
    (tmp_path / "a.py").write_text(SOURCE)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    assert _port(tmp_path, ruleset, PortOptions(jobs=1, cache_dir=Path(blocker))).new_bytes is not None


def test_a_change_to_porters_own_code_changes_the_key(ruleset, monkeypatch):
    import porter.cache

    key = cache_key(ruleset.content_hash, frozenset(), "python", b"x")
    assert key == cache_key(ruleset.content_hash, frozenset(), "python", b"x")
    monkeypatch.setattr(porter.cache, "code_hash", lambda: "edited")
    assert key != cache_key(ruleset.content_hash, frozenset(), "python", b"x")


def test_the_source_hash_covers_every_python_file(tmp_path):
    from porter.cache import source_hash

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = source_hash(tmp_path)
    (tmp_path / "notes.txt").write_text("still not code")
    assert source_hash(tmp_path) == first
    (tmp_path / "sub" / "a.py").write_text("x = 2\n")
    edited = source_hash(tmp_path)
    (tmp_path / "b.py").write_text("")
    assert len({first, edited, source_hash(tmp_path)}) == 3
