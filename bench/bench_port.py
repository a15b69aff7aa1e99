"""Benchmark `porter port` on a synthetic repository: N files in the shape of real training code.

    python bench/bench_port.py --files 2000 --jobs 2

Prints files/s and MB/s for the whole pipeline (discover, port, write, report). Record results in bench/RESULTS.md
with the machine they ran on.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from porter.engine import PortOptions
from porter.pipeline import PortRequest, run
from porter.ruleset import load_ruleset

PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "mini_gpt"


def make_tree(root: Path, files: int) -> int:
    """Copies of the example's Python files (CUDA-heavy and CUDA-free), spread over packages."""
    sources = sorted(PROJECT.glob("*.py"))
    size = 0
    for index in range(files):
        source = sources[index % len(sources)]
        target = root / f"pkg{index // 100}" / f"{source.stem}_{index}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        size += target.stat().st_size
    return size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "dst"
        size = make_tree(src, args.files)
        ruleset = load_ruleset("2.13.0")
        start = time.perf_counter()
        report = run(PortRequest(src, dst, ruleset, options=PortOptions(jobs=args.jobs), parity=False))
        elapsed = time.perf_counter() - start
    totals = report.totals()
    print(f"{args.files} files, {size / 1e6:.1f} MB, jobs={args.jobs}: {elapsed:.2f} s "
          f"({args.files / elapsed:.0f} files/s, {size / 1e6 / elapsed:.2f} MB/s); "
          f"converted {totals['files_by_outcome']['converted']}, findings {sum(totals['findings_by_status'].values())}")


if __name__ == "__main__":
    main()
