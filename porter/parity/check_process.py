"""Checking generated cases in a child process that imports torch while the port still runs.

Importing torch and, for an optimizer case, torch._dynamo takes about 2 s of one core, nearly all of what checking
the cases costs. The child is started when the run starts, at the lowest priority: it imports torch on the core
that the run's serial steps (finding the files, the backend scan, the suite) leave idle, and yields to
the port's workers in between; a run with no case to check kills it. The child reads one JSON line per case and
answers one JSON line each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import porter
from porter.parity.cases import Case
from porter.parity.suite import check_case

# The child imports this porter, and never from the directory porter was started in (the user's tree, perhaps):
# that entry of sys.path is replaced before anything is imported.
_CHILD = (f"import sys; sys.path[0] = {str(Path(porter.__file__).parent.parent)!r}; "
          "from porter.parity.check_process import serve; serve()")


class CheckProcess:
    """The parent's end: ``start`` early, ``check`` each case, ``close`` always (it kills an unused child)."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._ready = False  # the child said it imported torch
        self._in_process = False  # a child could not start: porter's own process checks the cases

    def start(self) -> None:
        if self._child is None and not self._in_process:
            try:
                self._child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            except OSError:  # no interpreter to start (an embedding), or no process to spare
                self._in_process = True
            self._ready = False

    def check(self, case: Case, tiny: dict) -> str | None:
        """As ``porter.parity.suite.check_case``: the error of a case that cannot run, or None; ImportError when
        there is no torch. Checked here when a child could not start."""
        self.start()
        if self._in_process:
            return check_case(case, tiny)
        if not self._ready:
            greeting = self._answer()
            if greeting is None:
                self.close()
                self._in_process = True
                return check_case(case, tiny)
            if "unavailable" in greeting:
                raise ImportError(greeting["unavailable"])
            self._ready = True
        try:
            self._child.stdin.write(json.dumps({"case": case.to_yaml(), "tiny": tiny}) + "\n")
            self._child.stdin.flush()
        except OSError:
            pass  # it died; _answer says so
        answer = self._answer()
        if answer is None:  # the case crashed the interpreter: the next case gets a new child
            code = self.close()
            return f"the process that ran the case exited with code {code}"
        return answer["error"]

    def _answer(self) -> dict | None:
        try:
            return json.loads(self._child.stdout.readline())
        except ValueError:  # an empty line: the child exited
            return None

    def close(self) -> int | None:
        """Stop the child (killed if it is still running); its exit code."""
        child, self._child = self._child, None
        if child is None:
            return None
        if child.poll() is None:
            child.kill()
        for stream in (child.stdin, child.stdout):
            stream.close()
        return child.wait()

    def __enter__(self) -> CheckProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def serve() -> None:
    """The child's end. Answers go to the standard output it was started with; whatever else writes there (a case,
    torch, a native library) is sent to the standard error instead, so it cannot be read as an answer."""
    if hasattr(os, "nice"):
        os.nice(19)  # the port's workers come first: the child takes what CPU they and the parent leave idle
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        import torch._dynamo  # noqa: F401  (an optimizer's first step imports it: 1 s, better now than then)

        from porter.parity import runner  # noqa: F401
    except ImportError as exc:
        _say(answers, {"unavailable": f"{type(exc).__name__}: {exc}"})
        return
    _say(answers, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            error = check_case(Case.from_dict(request["case"]), request["tiny"])
        except Exception as exc:  # a generated case that cannot even be built
            error = f"{type(exc).__name__}: {exc}"
        _say(answers, {"error": error})


def _say(answers, answer: dict) -> None:
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
