"""The per-file result cache: a hit gives exactly the fresh result; any change to the inputs is a miss."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import porter
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
    _never_ported(monkeypatch)
    cached = _port(tmp_path, ruleset, options)
    assert cached.to_dict() == fresh.to_dict() and cached.new_bytes == fresh.new_bytes


def _never_ported(monkeypatch):
    import porter.engine

    monkeypatch.setattr(porter.engine, "port_bytes", lambda *a: (_ for _ in ()).throw(AssertionError("ported")))


def test_facts_are_cached_with_the_result_and_a_result_without_them_is_not_reused(tmp_path, ruleset, monkeypatch):
    from porter.parity.analyze import facts_json

    source = SOURCE + "hidden_size = 64\n"
    (tmp_path / "a.py").write_text(source)
    without = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    assert _port(tmp_path, ruleset, without).facts is None
    reading = dataclasses.replace(without, read_facts=facts_json)
    fresh = _port(tmp_path, ruleset, reading)
    assert fresh.facts == facts_json("a.py", source) and b"hidden_size" in fresh.facts
    _never_ported(monkeypatch)
    assert _port(tmp_path, ruleset, reading).facts == fresh.facts


def test_a_native_result_cached_without_facts_serves_a_port_that_reads_them(tmp_path, ruleset, monkeypatch):
    """Only Python results carry facts: the other kinds' entries are shared by ports with and without them."""
    from porter.parity.analyze import facts_json

    (tmp_path / "k.cu").write_text("#include <cuda_runtime.h>\nvoid f() { cudaDeviceSynchronize(); }\n")
    without = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    fresh = port_file(tmp_path, SourceFile("k.cu", "native", True), ruleset, without)
    _never_ported(monkeypatch)
    reading = dataclasses.replace(without, read_facts=facts_json)
    cached = port_file(tmp_path, SourceFile("k.cu", "native", True), ruleset, reading)
    assert cached.to_dict() == fresh.to_dict() and cached.new_bytes == fresh.new_bytes


def test_facts_are_read_from_every_decodable_python_file_and_a_failing_reader_costs_only_them(tmp_path, ruleset):
    def failing(path, text):
        raise RecursionError("too deep")

    (tmp_path / "a.py").write_text("import os\nhidden_size = 64\n")  # nothing to port: the prefilter skips it
    (tmp_path / "b.py").write_bytes(b"\x00\x01binary")
    options = PortOptions(jobs=1, read_facts=lambda path, text: f"{path}:{len(text)}".encode())
    assert _port(tmp_path, ruleset, options).facts == b"a.py:27"
    assert port_file(tmp_path, SourceFile("b.py", "python", True), ruleset, options).facts is None
    (tmp_path / "a.py").write_text(SOURCE)
    plain = _port(tmp_path, ruleset, PortOptions(jobs=1))
    failed = _port(tmp_path, ruleset, PortOptions(jobs=1, read_facts=failing))
    assert failed.facts is None and failed.to_dict() == plain.to_dict() and failed.new_bytes == plain.new_bytes


def test_a_file_porter_cannot_parse_is_a_hit_too(tmp_path, ruleset, monkeypatch):
    """A syntax error or a native file tree-sitter cannot parse fails the same way every time: a warm run of a big
    repository must not port those files again (19 native files of the bench corpus took most of a warm run)."""
    (tmp_path / "py2.py").write_text('import torch\nprint "cuda"\n')
    (tmp_path / "k.cu").write_text("void broken( { cudaFree(p); }\n")
    sources = [SourceFile("py2.py", "python", True), SourceFile("k.cu", "native", True)]
    options = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    fresh = [port_file(tmp_path, source, ruleset, options) for source in sources]
    assert [r.outcome.value for r in fresh] == ["error", "error"]
    _never_ported(monkeypatch)
    cached = [port_file(tmp_path, source, ruleset, options) for source in sources]
    assert [r.to_dict() for r in cached] == [r.to_dict() for r in fresh]


def test_a_failure_of_porter_itself_is_never_cached(tmp_path, ruleset, monkeypatch):
    import porter.python.frontend

    (tmp_path / "a.py").write_text(SOURCE)
    options = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    with monkeypatch.context() as patch:
        patch.setattr(porter.python.frontend, "port_python", lambda *a: (_ for _ in ()).throw(MemoryError()))
        failed = _port(tmp_path, ruleset, options)
    assert failed.outcome.value == "error" and "MemoryError" in failed.error
    assert not list((tmp_path / "cache").rglob("*.json"))
    assert _port(tmp_path, ruleset, options).new_bytes is not None  # the rerun retries


def test_changed_bytes_rules_or_modules_change_the_key(ruleset):
    key = cache_key(ruleset.content_hash, frozenset(), "python", b"x")
    other_rules = load_ruleset("2.13.0")
    other_rules = dataclasses.replace(other_rules, rules=other_rules.rules[:-1])
    assert key != cache_key(ruleset.content_hash, frozenset(), "python", b"y")
    assert key != cache_key(other_rules.content_hash, frozenset(), "python", b"x")
    assert key != cache_key(ruleset.content_hash, frozenset({"pkg"}), "python", b"x")
    assert key != cache_key(ruleset.content_hash, frozenset(), "native", b"x")
    assert key != cache_key(ruleset.content_hash, frozenset(), "python", b"x", facts_reader="facts")


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


def test_the_source_hash_covers_every_file_but_bytecode(tmp_path):
    from porter.cache import source_hash

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 1\n")
    (tmp_path / "names.yaml").write_text("a: 1\n")
    first = source_hash(tmp_path)
    (tmp_path / "sub" / "__pycache__").mkdir()
    (tmp_path / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "c.pyc").write_bytes(b"\0")
    assert source_hash(tmp_path) == first
    (tmp_path / "sub" / "a.py").write_text("x = 2\n")
    edited = source_hash(tmp_path)
    (tmp_path / "names.yaml").write_text("a: 2\n")
    data_edited = source_hash(tmp_path)
    (tmp_path / "b.py").write_text("")
    assert len({first, edited, data_edited, source_hash(tmp_path)}) == 4


def test_porters_code_hash_covers_its_templates():
    """A release that changes only a template (generated kernels, the parity suite) must not reuse older results."""
    from porter.cache import code_hash, source_hash
    from porter.resources import data_dir

    package = Path(porter.__file__).resolve().parent
    assert code_hash() == source_hash(package, data_dir("templates"))
    assert code_hash() != source_hash(package)


def test_an_altered_entry_that_still_parses_is_a_miss_and_is_rewritten(tmp_path, ruleset):
    (tmp_path / "a.py").write_text(SOURCE)
    cache = tmp_path / "cache"
    options = PortOptions(jobs=1, cache_dir=cache)
    fresh = _port(tmp_path, ruleset, options)
    entry = next(cache.rglob("*.json"))
    entry.write_bytes(entry.read_bytes().replace(b"npu", b"gpu"))  # valid JSON, wrong content
    assert load(cache, entry.stem, "a.py") is None
    assert _port(tmp_path, ruleset, options).new_bytes == fresh.new_bytes
    assert load(cache, entry.stem, "a.py").new_bytes == fresh.new_bytes  # the fresh result replaced it


def test_eviction_removes_the_least_recently_used_entries_first(tmp_path, ruleset):
    import os

    from porter.cache import evict

    cache = tmp_path / "cache"
    result = _port(tmp_path / "none", ruleset, PortOptions(jobs=1))  # an unreadable file: any result will do
    keys = [f"{index:064x}" for index in range(10)]
    for age, key in enumerate(keys):
        store(cache, key, result)
        path = cache / key[:2] / f"{key}.json"
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    size = (cache / keys[0][:2] / f"{keys[0]}.json").stat().st_size
    load(cache, keys[0], "a.py")  # a hit makes the oldest entry the most recent
    assert evict(cache, max_bytes=size * 10) == 0
    removed = evict(cache, max_bytes=size * 5)
    left = {p.stem for p in cache.rglob("*.json")}
    assert removed == 6 and keys[0] in left and keys[1] not in left and keys[9] in left


def _port_cli(source, output, *args, parity=False):
    from click.testing import CliRunner

    from porter.cli import main

    options = [] if parity else ["--no-parity"]
    result = CliRunner().invoke(main, ["port", str(source), "-o", str(output), "-q", *options, *args])
    assert result.exit_code == 0, result.output
    return output


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "mini_gpt"


def test_cold_warm_and_corrupted_caches_give_identical_outputs(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cold = _tree_bytes(_port_cli(PROJECT, tmp_path / "cold"))
    entries = list((tmp_path / "xdg" / "porter").rglob("*.json"))
    assert entries, "the cache is on by default, in the XDG cache folder"
    warm = _tree_bytes(_port_cli(PROJECT, tmp_path / "cold", "--force"))
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:-7])
    corrupted = _tree_bytes(_port_cli(PROJECT, tmp_path / "cold", "--force"))
    assert cold == warm == corrupted
    assert any(b"npu" in data for data in cold.values())


def test_a_warm_run_does_not_load_libcst(tmp_path):
    """A run the cache answers parses nothing, so it does not even import libcst (a seventh of a warm run)."""
    cache = tmp_path / "cache"
    _port_cli(PROJECT, tmp_path / "out", "--cache-dir", str(cache), parity=True)
    arguments = ["port", str(PROJECT), "-o", str(tmp_path / "out"), "-q", "--force", "--cache-dir", str(cache)]
    script = ("import sys\nfrom porter.cli import main\ntry:\n"
              f"    main({arguments!r})\nexcept SystemExit:\n    print('libcst' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"], done.stderr


def test_no_cache_writes_no_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _port_cli(PROJECT, tmp_path / "out", "--no-cache")
    assert not (tmp_path / "xdg").exists()


def test_one_worker_and_many_give_identical_outputs(tmp_path):
    from porter.engine import PARALLEL_THRESHOLD

    source = tmp_path / "src"
    for index in range(PARALLEL_THRESHOLD + 8):  # enough files for the process pool
        package = source / f"pkg{index % 3}"
        package.mkdir(parents=True, exist_ok=True)
        name = sorted(PROJECT.glob("*.py"))[index % 3]
        (package / f"{name.stem}_{index}.py").write_bytes(name.read_bytes())
    outputs = []
    for jobs in ("1", "2"):  # the parity suite too: its facts are read in the workers
        output = _port_cli(source, tmp_path / f"jobs{jobs}", "-j", jobs, "--no-cache", parity=True)
        outputs.append({path: data.replace(str(output).encode(), b"OUT")  # the reports name the output folder
                        for path, data in _tree_bytes(output).items()})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > PARALLEL_THRESHOLD
    assert b"linear_" in outputs[0]["parity/parity.yaml"]


def test_a_port_without_the_suite_caches_nothing_a_port_with_it_would_take(tmp_path):
    """Results cached without the parity suite's facts are not taken by a port that writes the suite."""
    cache = tmp_path / "cache"
    _port_cli(PROJECT, tmp_path / "plain", "--cache-dir", cache)
    cached = _tree_bytes(_port_cli(PROJECT, tmp_path / "suite", "--cache-dir", cache, parity=True))
    fresh = _tree_bytes(_port_cli(PROJECT, tmp_path / "fresh", "--no-cache", parity=True))
    assert cached["parity/parity.yaml"] == fresh["parity/parity.yaml"]
    assert b"linear_" in fresh["parity/parity.yaml"]


def test_a_warm_run_takes_the_parity_suite_and_its_findings_from_the_cache(tmp_path, monkeypatch):
    import porter.pipeline
    from porter.findings import Finding, Status

    generate = porter.pipeline._generate_parity_suite
    calls = []

    def generate_and_report(request, results, out_dir, check):
        calls.append(out_dir)
        results[0].findings.append(Finding("PY001", "device", Status.REVIEW, "a finding the suite added"))
        return generate(request, results, out_dir, check)

    monkeypatch.setattr(porter.pipeline, "_generate_parity_suite", generate_and_report)
    out = tmp_path / "out"
    cold = _tree_bytes(_port_cli(PROJECT, out, parity=True))
    assert len(calls) == 1 and "parity/parity.yaml" in cold
    warm = _tree_bytes(_port_cli(PROJECT, out, "--force", parity=True))
    assert len(calls) == 1, "nothing changed: the suite comes from the cache"
    assert warm == cold  # the report holds the suite's finding again
    assert b"a finding the suite added" in warm["porter-report/report.json"]

    changed = tmp_path / "changed"
    shutil.copytree(PROJECT, changed)
    (changed / "model.py").write_text((changed / "model.py").read_text() + "\n# edited\n")
    _port_cli(changed, tmp_path / "out2", parity=True)
    assert len(calls) == 2, "a changed source regenerates the suite"


def test_with_one_file_changed_only_that_file_is_read_again_for_the_suite(tmp_path, monkeypatch):
    """A re-run after an edit reads the edited file's facts and runs no unchanged case again, and writes what a
    cold run of the edited tree writes."""
    import porter.parity.analyze
    from porter.parity.check_process import CheckProcess

    read, checked = [], []
    facts, check = porter.parity.analyze.file_facts, CheckProcess.check
    monkeypatch.setattr(porter.parity.analyze, "file_facts", lambda path, text: read.append(path) or facts(path, text))
    monkeypatch.setattr(CheckProcess, "check",
                        lambda self, case, tiny: checked.append(case.name) or check(self, case, tiny))
    source = tmp_path / "src"
    shutil.copytree(PROJECT, source)
    _port_cli(source, tmp_path / "out", "--cache-dir", tmp_path / "cache", parity=True)
    assert read and checked
    first_checks = len(checked)
    read.clear(), checked.clear()
    (source / "model.py").write_text((source / "model.py").read_text() + "\n# edited\n")
    warm = _tree_bytes(_port_cli(source, tmp_path / "out", "--force", "--cache-dir", tmp_path / "cache", parity=True))
    assert read == ["model.py"] and checked == [], (read, checked, first_checks)
    cold = _tree_bytes(_port_cli(source, tmp_path / "out", "--force", "--no-cache", parity=True))
    assert warm == cold


def test_a_warm_run_starts_no_workers_and_misses_come_back_in_order(tmp_path, ruleset, monkeypatch):
    import porter.engine
    from porter.engine import PARALLEL_THRESHOLD, port_files

    names = [f"m{index:03}.py" for index in range(PARALLEL_THRESHOLD + 8)]  # enough files for the process pool
    for name in names:
        (tmp_path / name).write_text(SOURCE.replace("'a'", f"'{name}'"))
    sources = [SourceFile(name, "python", True) for name in names]
    options = PortOptions(jobs=2, cache_dir=tmp_path / "cache")
    cold = port_files(tmp_path, sources, ruleset, options)
    monkeypatch.setattr(porter.engine, "worker_pool", lambda jobs: (_ for _ in ()).throw(AssertionError("pool")))
    (tmp_path / names[5]).write_text(SOURCE + "y = 1\n")  # one miss among hits: ported here, in its place
    warm = port_files(tmp_path, sources, ruleset, options)
    assert [r.path for r in warm] == names
    assert [r.cached for r in warm] == [index != 5 for index in range(len(names))]
    assert [r.to_dict() for i, r in enumerate(warm) if i != 5] == [r.to_dict() for i, r in enumerate(cold) if i != 5]
    assert b"y = 1" in warm[5].new_bytes
