"""Progress display: a rich bar on a terminal, otherwise a plain line every tenth of a run of 50+ files; never a prompt."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from porter.findings import FileResult


class Progress:
    def __init__(self, enabled: bool, verbose: bool) -> None:
        self.enabled = enabled
        self.verbose = verbose and enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = RichProgress(TextColumn("porting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                    transient=True)
        self.task = None
        self.total = 0
        self.done = 0

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.task = self.bar.add_task("port", total=total)

    def advance(self, result: FileResult) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.enabled and self.total >= 50 and self.done * 10 // self.total != (self.done - 1) * 10 // self.total:
            self._line(f"porter: {self.done}/{self.total} files")
        if self.verbose and result.findings:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(result.to_dict()["counts"].items()))
            self._line(f"{result.path}: {result.outcome.value} ({counts})")

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text)
        else:
            print(text, file=sys.stderr)
