"""Native frontend benchmarks on real trees (e.g. unpacked PyPI sdists that ship .cu sources).

    python bench/bench_native.py grammar DIR...   # ERROR nodes of tree-sitter-cuda vs tree-sitter-cpp
    python bench/bench_native.py port DIR [-j 2]  # time `porter port` of the tree, native files counted

Record results in bench/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from porter.engine import PortOptions
from porter.native.syntax import error_nodes, parser
from porter.pipeline import PortRequest, run
from porter.ruleset import load_ruleset

CUDA_SUFFIXES = (".cu", ".cuh")
CPP_SUFFIXES = (".cpp", ".cc", ".cxx", ".h", ".hpp")


def grammar(directories: list[Path]) -> None:
    for suffixes, label in ((CUDA_SUFFIXES, ".cu/.cuh"), (CPP_SUFFIXES, ".cpp/.h")):
        files = sorted(p for d in directories for p in d.rglob("*") if p.suffix in suffixes and p.is_file())
        errors, failing, seconds = Counter(), Counter(), Counter()
        for path in files:
            data = path.read_bytes()
            for name in ("cuda", "cpp"):
                start = time.perf_counter()
                count = len(error_nodes(parser(name).parse(data).root_node))
                seconds[name] += time.perf_counter() - start
                errors[name] += count
                failing[name] += count > 0
        print(f"{label}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB")
        for name in ("cuda", "cpp"):
            print(f"  tree-sitter-{name}: {errors[name]} ERROR/MISSING nodes, {failing[name]} files not clean "
                  f"({100 * failing[name] / max(len(files), 1):.1f}%), parse {seconds[name]:.1f} s")


def port(directory: Path, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        request = PortRequest(source=directory, output=Path(scratch) / "out", ruleset=load_ruleset("2.13.0"),
                              force=True, parity=False, options=PortOptions(jobs=jobs))
        start = time.perf_counter()
        report = run(request)
        elapsed = time.perf_counter() - start
    native = [r for r in report.files if r.kind == "native"]
    outcomes = Counter(r.outcome.value for r in native)
    size = sum((directory / r.path).stat().st_size for r in native) / 1e6
    generated = sum(len(r.generated) for r in native)
    print(f"{len(report.files)} files, {len(native)} native ({size:.1f} MB): {dict(outcomes)}, {generated} generated")
    print(f"{elapsed:.1f} s wall with -j {jobs}: {len(native) / elapsed:.0f} native files/s")


def main() -> None:
    parser_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser_.add_subparsers(dest="command", required=True)
    sub.add_parser("grammar").add_argument("directories", nargs="+", type=Path)
    port_parser = sub.add_parser("port")
    port_parser.add_argument("directory", type=Path)
    port_parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    args = parser_.parse_args()
    if args.command == "grammar":
        grammar(args.directories)
    else:
        port(args.directory, args.jobs)


if __name__ == "__main__":
    main()
