"""porter.workers: porting runs with fewer garbage collections, in the pool's workers and in a sequential run, and
leaves the caller's collector settings as they were."""

import gc

from porter import engine
from porter.discover import SourceFile
from porter.engine import PortOptions, port_files
from porter.ruleset import load_ruleset
from porter.workers import YOUNG_GENERATION_THRESHOLD, fewer_collections, worker_pool


def _threshold(_item=None):
    return gc.get_threshold()[0]


def test_the_threshold_holds_inside_and_is_restored_after_even_on_error():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            assert _threshold() == YOUNG_GENERATION_THRESHOLD
            raise RuntimeError
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_workers_port_with_the_higher_threshold():
    with worker_pool(2) as pool:
        assert set(pool.map(_threshold, range(4))) == {YOUNG_GENERATION_THRESHOLD}


def test_a_sequential_port_runs_with_the_higher_threshold(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("import torch\nx = torch.cuda.is_available()\n")
    seen = []
    port_file = engine.port_file
    monkeypatch.setattr(engine, "port_file", lambda *args: seen.append(_threshold()) or port_file(*args))
    before = gc.get_threshold()
    results = port_files(tmp_path, [SourceFile("a.py", "python", True)], load_ruleset("npu"), PortOptions(jobs=1))
    assert seen == [YOUNG_GENERATION_THRESHOLD]
    assert results[0].findings
    assert gc.get_threshold() == before
