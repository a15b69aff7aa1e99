"""Ctrl-C: porter stops its workers and exits 130 within 2 s; an output it was writing is left marked incomplete,
and the next run replaces it without --force."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import porter.cli
import porter.pipeline
from porter.cli import main
from porter.discover import INCOMPLETE_MARKER

BODY = "import torch\n\n" + "".join(
    f"def f{i}(x, device='cuda'):\n    torch.cuda.synchronize()\n    return x.to('cuda:0') + torch.zeros(4).cuda()\n\n"
    for i in range(40)  # enough work per file that an interrupt lands mid-run on a fast machine
)


def _generate(src: Path, packages: int, modules: int) -> Path:
    for p in range(packages):
        package = src / f"pkg{p}"
        package.mkdir(parents=True)
        for m in range(modules):
            (package / f"m{m}.py").write_text(BODY)
    return src


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _wait_for_workers(run: subprocess.Popen, count: int) -> list[int]:
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        workers = _children(run.pid)
        if len(workers) >= count:
            return workers
        time.sleep(0.01)
    raise AssertionError("porter never started its worker pool")


def _default_sigint() -> None:
    """A shell starts a job with Ctrl-C at its default action; the test process (pytest, torch) may not have it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
def test_ctrl_c_mid_run_stops_the_pool_exits_130_and_the_next_run_replaces_the_output(tmp_path):
    src, out = _generate(tmp_path / "src", packages=4, modules=32), tmp_path / "out"
    command = [sys.executable, "-m", "porter", "port", str(src), "-o", str(out), "--no-parity", "-j", "2"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                           start_new_session=True,  # its own process group, as a terminal's foreground job
                           preexec_fn=_default_sigint)
    try:
        workers = _wait_for_workers(run, 2)  # the pool is at work
        time.sleep(0.2)
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group gets it
        sent = time.monotonic()
        code = run.wait(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert code == 130, f"exit {code}: {run.stderr.read()}"
    assert elapsed < 2.0
    assert not [pid for pid in workers if _alive(pid)]
    with pytest.raises(ProcessLookupError):
        os.killpg(run.pid, 0)  # nothing of the group is left
    assert (out / INCOMPLETE_MARKER).is_file()

    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert not (out / INCOMPLETE_MARKER).exists()
    assert json.loads((out / "porter-report" / "report.json").read_text())["incomplete"] is False
    assert "npu" in (out / "pkg3" / "m31.py").read_text()


def _port(src: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["port", str(src), "-o", str(out), "--no-parity", "-j", "1", *extra])


def test_an_interrupt_while_writing_leaves_a_marked_output_and_report(tmp_path, monkeypatch):
    src, out = _generate(tmp_path / "src", packages=1, modules=6), tmp_path / "out"
    written = []
    write_file = porter.pipeline.write_file

    def interrupted_after_two(src_root, dst_root, result):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(result.path)
        write_file(src_root, dst_root, result)

    monkeypatch.setattr(porter.pipeline, "write_file", interrupted_after_two)
    result = _port(src, out)
    assert result.exit_code == 130 and "interrupted" in result.output
    assert (out / INCOMPLETE_MARKER).is_file()
    report = json.loads((out / "porter-report" / "report.json").read_text())
    assert report["incomplete"] is True
    assert "**Incomplete" in (out / "porter-report" / "report.md").read_text()

    monkeypatch.setattr(porter.pipeline, "write_file", write_file)
    assert _port(src, out).exit_code == 0
    assert not (out / INCOMPLETE_MARKER).exists()
    assert json.loads((out / "porter-report" / "report.json").read_text())["incomplete"] is False
    assert len(list((out / "pkg0").iterdir())) == 6


def test_an_output_of_another_run_is_still_refused(tmp_path):
    src, out = _generate(tmp_path / "src", packages=1, modules=1), tmp_path / "out"
    assert _port(src, out).exit_code == 0
    assert _port(src, out).exit_code == 2  # complete: not porter's to replace without --force


def test_an_interrupt_anywhere_in_a_command_exits_130(tmp_path, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(porter.cli, "run", interrupted)
    result = _port(tmp_path, tmp_path / "out")
    assert result.exit_code == 130 and "porter: interrupted" in result.output
