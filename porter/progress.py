"""Progress display: a rich bar on a terminal, plain lines otherwise; never a prompt."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from porter.findings import FileResult


class Progress:
    def __init__(self, enabled: bool, verbose: bool) -> None:
        self.verbose = verbose and enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = RichProgress(TextColumn("porting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                    transient=True)
        self.task = None

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("port", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, result: FileResult) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)
        if self.verbose and result.findings:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(result.to_dict()["counts"].items()))
            line = f"{result.path}: {result.outcome.value} ({counts})"
            if self.bar is not None:
                self.bar.console.print(line)
            else:
                print(line, file=sys.stderr)
