"""Generated cases checked in a child process started while the port runs: the same outcomes as checking them in
porter's own process, and a child that fails costs no case."""

import json
from pathlib import Path

import pytest

import porter
from porter.parity import check_process
from porter.parity.analyze import analyze, facts_of
from porter.parity.check_process import CheckProcess
from porter.parity.suite import cases_from, check_cases

SOURCE = ("import torch\nimport torch.nn as nn\nbad = nn.Conv2d(64, 128, 3, groups=7)\ngood = nn.Conv2d(8, 16, 7)\n"
          "opt = torch.optim.AdamW([], lr=1e-3)\n")


def _cases():
    tiny = {}
    return cases_from(analyze(facts_of({"m.py": SOURCE})), tiny), tiny


def _outcomes(checked):
    kept, dropped = checked
    return [case.name for case in kept], [(d["name"], d["error"]) for d in dropped]


def test_the_child_keeps_and_drops_what_porters_own_process_does():
    cases, tiny = _cases()
    with CheckProcess() as checker:
        in_child = _outcomes(check_cases(cases, tiny, check=checker.check))
    in_process = _outcomes(check_cases(cases, tiny))
    assert in_child == in_process
    assert [name for name, _ in in_child[1]] == ["conv2d_128x9x3x3_fp32"] and "adamw_65536_fp32" in in_child[0]


def test_a_case_that_kills_the_child_is_dropped_and_the_next_gets_a_new_child(monkeypatch):
    ready = json.dumps({"ready": True})
    monkeypatch.setattr(check_process, "_CHILD", f"import sys; print({ready!r}, flush=True); sys.stdin.readline(); "
                                                 "sys.exit(3)")
    cases, tiny = _cases()
    with CheckProcess() as checker:
        kept, dropped = check_cases(cases[:2], tiny, check=checker.check)
    assert kept == [] and [d["error"] for d in dropped] == ["the process that ran the case exited with code 3"] * 2


def test_a_child_that_cannot_start_leaves_the_check_to_porters_own_process(monkeypatch):
    monkeypatch.setattr(check_process, "_CHILD", "import sys; sys.exit(1)")
    cases, tiny = _cases()
    spawned, popen = [], check_process.subprocess.Popen
    monkeypatch.setattr(check_process.subprocess, "Popen", lambda *a, **k: spawned.append(a) or popen(*a, **k))
    with CheckProcess() as checker:
        assert _outcomes(check_cases(cases, tiny, check=checker.check)) == _outcomes(check_cases(cases, tiny))
    assert len(cases) > 1 and len(spawned) == 1, "one failed start is enough"


def test_without_an_interpreter_to_start_porters_own_process_checks(monkeypatch):
    monkeypatch.setattr(check_process.sys, "executable", "/nonexistent/python")
    cases, tiny = _cases()
    with CheckProcess() as checker:
        checker.start()
        assert _outcomes(check_cases(cases, tiny, check=checker.check)) == _outcomes(check_cases(cases, tiny))


def test_without_torch_in_the_child_the_cases_are_kept_unchecked(monkeypatch):
    unavailable = json.dumps({"unavailable": "ModuleNotFoundError: No module named 'torch'"})
    monkeypatch.setattr(check_process, "_CHILD", f"print({unavailable!r})")
    cases, tiny = _cases()
    with CheckProcess() as checker:
        kept, dropped = check_cases(cases, tiny, check=checker.check)
    assert kept == cases and dropped == []


def test_an_unused_child_is_killed():
    checker = CheckProcess()
    checker.start()
    assert checker.close() == -9


@pytest.mark.parametrize("source, starts", [(SOURCE, True), ("import torch.distributed as dist\ndist.all_reduce(t)\n",
                                                                False)])
def test_the_port_starts_the_child_for_new_facts_that_name_a_checked_op(tmp_path, monkeypatch, ruleset, source,
                                                                         starts):
    from porter.engine import PortOptions
    from porter.pipeline import PortRequest, run

    started, start = [], CheckProcess.start

    def recorded(self):
        started.append(self)
        start(self)

    monkeypatch.setattr(CheckProcess, "start", recorded)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(source)
    options = PortOptions(jobs=1, cache_dir=tmp_path / "cache")
    run(PortRequest(tmp_path / "src", tmp_path / "cold", ruleset, options=options))
    assert bool(started) is starts
    started.clear()
    run(PortRequest(tmp_path / "src", tmp_path / "warm", ruleset, options=options))
    assert started == [], "every result and check came from the cache"


def test_what_a_case_prints_is_not_read_as_its_answer(monkeypatch):
    root = str(Path(porter.__file__).parent.parent)
    monkeypatch.setattr(check_process, "_CHILD", f"import sys; sys.path[0] = {root!r}; "
                        "import porter.parity.check_process as c; real = c.check_case; "
                        "c.check_case = lambda case, tiny: print('noise') or real(case, tiny); c.serve()")
    cases, tiny = _cases()
    with CheckProcess() as checker:
        assert _outcomes(check_cases(cases, tiny, check=checker.check)) == _outcomes(check_cases(cases, tiny))
