"""Generated cases checked in a child process started with the run: the same outcomes as checking them in porter's
own process, and a child that fails costs no case."""

import json
import os
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


@pytest.mark.parametrize("parity, dry_run, starts", [(True, False, True), (False, False, False), (True, True, False)])
def test_a_run_that_writes_the_suite_starts_the_child_before_it_reads_the_tree(tmp_path, monkeypatch, ruleset, parity,
                                                                               dry_run, starts):
    from porter import pipeline
    from porter.engine import PortOptions

    events, start, discover = [], CheckProcess.start, pipeline.discover
    monkeypatch.setattr(CheckProcess, "start", lambda self: events.append("start") or start(self))
    monkeypatch.setattr(pipeline, "discover", lambda *a, **k: events.append("discover") or discover(*a, **k))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(SOURCE)
    request = pipeline.PortRequest(tmp_path / "src", tmp_path / "out", ruleset, options=PortOptions(jobs=1),
                                   parity=parity, dry_run=dry_run)
    pipeline.run(request)
    assert list(dict.fromkeys(events)) == (["start", "discover"] if starts else ["discover"])  # check() starts too


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_the_child_runs_at_the_lowest_priority():
    cases, tiny = _cases()
    with CheckProcess() as checker:
        checker.check(cases[0], tiny)  # answered: the child set its priority before importing torch
        assert os.getpriority(os.PRIO_PROCESS, checker._child.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 19)


def test_what_a_case_prints_is_not_read_as_its_answer(monkeypatch):
    root = str(Path(porter.__file__).parent.parent)
    monkeypatch.setattr(check_process, "_CHILD", f"import sys; sys.path[0] = {root!r}; "
                        "import porter.parity.check_process as c; real = c.check_case; "
                        "c.check_case = lambda case, tiny: print('noise') or real(case, tiny); c.serve()")
    cases, tiny = _cases()
    with CheckProcess() as checker:
        assert _outcomes(check_cases(cases, tiny, check=checker.check)) == _outcomes(check_cases(cases, tiny))
