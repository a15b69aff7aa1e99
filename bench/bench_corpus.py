"""Benchmark `porter port` on a large real corpus from PyPI source distributions, beside the tools it is measured
against, all on the same files and the same machine.

    python bench/bench_corpus.py --corpus /tmp/porter-corpus --out bench/results/corpus.md \
        [--msft /path/to/ms_fmk_transplt.py --msft-python /path/to/venv/bin/python --msft-package megatron-core]

Reports, for the whole corpus: a single-process `libcst.parse_module` of every Python file (the baseline the
speed targets are ratios of), `torch.utils.hipify` over the same tree, porter cold (fresh cache, the median of
`--repeat` runs), warm (nothing changed), warm with one file changed, porter with 1 worker and with every core
(no cache), the share of the parity-suite generation (cold ports with and without it, without the cache, taken in
turns `--repeat` times: the median of the pairs' shares, since a pair run back to back drifts less than a median
of each), and msFmkTransplt on one package of the corpus when given. Wall seconds, files/s, lines/s, CPU
seconds (user + system, every process) and the peak RSS of the largest process. Needs network access to PyPI the
first time (to fill --corpus).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

PACKAGES = ("megatron-core==0.16.1", "deepspeed==0.19.8", "accelerate==1.15.0", "peft==0.21.2", "timm==1.0.31")

PEAK_RSS = """import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(code, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)"""  # KiB, largest process waited for; CPU s, all

LIBCST_PARSE = """import pathlib, sys, libcst
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    try:
        libcst.parse_module(path.read_bytes())
    except Exception:
        pass"""

HIPIFY = """import sys
from torch.utils.hipify.hipify_python import hipify
hipify(project_directory=sys.argv[1], output_directory=sys.argv[2], includes=["*"], show_progress=False,
       extensions=(".py", ".cu", ".cuh", ".c", ".cc", ".cpp", ".h", ".hpp", ".in"))"""


def fetch_corpus(corpus: Path, packages: tuple[str, ...]) -> Path:
    """Unpack each sdist into corpus/src/<name>; downloads only what is missing."""
    source = corpus / "src"
    for spec in packages:
        name = spec.split("==")[0].replace("-", "_")
        if any(source.glob(f"{name}-*")):
            continue
        downloads = corpus / "sdist"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        "-d", str(downloads), spec], check=True)
        archive = next(p for p in downloads.iterdir() if p.name.lower().replace("-", "_").startswith(name.lower()))
        source.mkdir(parents=True, exist_ok=True)
        if archive.suffix == ".zip":
            zipfile.ZipFile(archive).extractall(source)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(source, filter="data")
    return source


def measure(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of every process and peak RSS (MiB) of the largest process of `command`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    code, rss, cpu = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return elapsed, float(cpu), int(rss) // 1024


def python_stats(tree: Path) -> tuple[int, int]:
    files = sorted(tree.rglob("*.py"))
    return len(files), sum(p.read_bytes().count(b"\n") for p in files)


def porter(tree: Path, output: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "porter", "port", str(tree), "-o", str(output), "--force", "-q", *args]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) >> 20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return (f"{os.cpu_count()} cores ({cpu}), {memory} GiB, Python {platform.python_version()}, "
            f"libcst {importlib.metadata.version('libcst')}, torch {importlib.metadata.version('torch')}, "
            f"load average at start {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--packages", nargs="+", default=PACKAGES)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--msft", type=Path, help="msFmkTransplt's ms_fmk_transplt.py")
    parser.add_argument("--msft-python", default=sys.executable, help="a Python with pandas, libcst, jedi, prettytable")
    parser.add_argument("--msft-package", default="megatron-core", help="the corpus package to run it on")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the cold port, and of the cold ports with and without the parity suite taken in "
                             "turns; the rows give the median")
    args = parser.parse_args()
    tree = fetch_corpus(args.corpus, tuple(args.packages))
    files, lines = python_stats(tree)
    rows: list[tuple[str, float, float, int, int, int]] = []
    header = (f"Corpus: {', '.join(args.packages)} ({files:,} Python files, {lines:,} lines).\n"
              f"Machine: {machine()}.\n")
    print(header, flush=True)

    def row(label: str, command: list[str], counts: tuple[int, int] = (files, lines)) -> float:
        elapsed, cpu, rss = measure(command)
        rows.append((label, elapsed, cpu, rss, *counts))
        print(f"{label}: {elapsed:.1f} s, {cpu:.1f} CPU s, {rss} MiB, load average {os.getloadavg()[0]:.2f}",
              flush=True)
        return elapsed

    def repeated(runs: list[tuple[str, list[str]]], repeat: int, before=lambda: None) -> list[list[float]]:
        """Each command `repeat` times, taking turns (a difference of two runs moves by more than either's
        noise), `before` called before each run; each gets a row of its median run, all runs named in the label.
        The wall times of each command's runs, in order."""
        measured: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in runs}
        for _ in range(repeat):
            for label, command in runs:
                before()
                measured[label].append(measure(command))
                print(f"{label}: {measured[label][-1][0]:.1f} s", flush=True)
        for label, _ in runs:
            elapsed, cpu, rss = sorted(measured[label])[len(measured[label]) // 2]
            walls = ", ".join(f"{run[0]:.1f}" for run in measured[label])
            rows.append((f"{label} (median of {repeat} runs: {walls} s)", elapsed, cpu, rss, files, lines))
        return [[run[0] for run in measured[label]] for label, _ in runs]

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        baseline = row("libcst.parse_module of every Python file, one process", [sys.executable, "-c", LIBCST_PARSE, str(tree)])
        row("torch.utils.hipify, same tree", [sys.executable, "-c", HIPIFY, str(tree), str(work / "hipify")])
        cache = ["--cache-dir", str(work / "cache")]
        repeated([("porter port, cold (fresh cache)", porter(tree, work / "out", *cache))], args.repeat,
                 before=lambda: shutil.rmtree(work / "cache", ignore_errors=True))
        row("porter port, warm (nothing changed)", porter(tree, work / "out", *cache))
        changed = next(p for p in sorted(tree.rglob("*.py")) if b"cuda" in p.read_bytes())
        original = changed.read_bytes()
        try:
            changed.write_bytes(original + b"\n# changed\n")
            row(f"porter port, warm, one file changed ({changed.relative_to(tree)})", porter(tree, work / "out", *cache))
        finally:
            changed.write_bytes(original)
        no_parity, with_parity = repeated(
            [("porter port --no-parity, cold, no cache", porter(tree, work / "np", "--no-cache", "--no-parity")),
             ("porter port, cold, no cache", porter(tree, work / "wp", "--no-cache"))], args.repeat)
        for jobs in sorted({1, os.cpu_count() or 1}):
            row(f"porter port --no-parity -j {jobs}, no cache", porter(tree, work / f"j{jobs}", "--no-cache",
                                                                       "--no-parity", "-j", str(jobs)))
        if args.msft:
            package = next(tree.glob(f"{args.msft_package.replace('-', '_')}-*"))
            sub_files, sub_lines = python_stats(package)
            label = f"{package.name} ({sub_files} files, {sub_lines:,} lines)"
            (work / "msft").mkdir()
            msft = row(f"msFmkTransplt on {label}",
                       [args.msft_python, str(args.msft), "-i", str(package), "-o", str(work / "msft"), "-v", "2.8.0"],
                       (sub_files, sub_lines))
            mine = row(f"porter port on {label}, cold", porter(package, work / "sub", "--no-cache"),
                       (sub_files, sub_lines))
            print(f"msFmkTransplt / porter: {msft / mine:.1f}x")
    table = ["| run | wall s | CPU s | files/s | lines/s | peak RSS MiB | × libcst parse |",
             "|---|---|---|---|---|---|---|"]
    for label, elapsed, cpu, rss, row_files, row_lines in rows:
        ratio = f"{elapsed / baseline:.2f}" if row_files == files else "–"
        table.append(f"| {label} | {elapsed:.1f} | {cpu:.1f} | {row_files / elapsed:,.0f} | "
                     f"{row_lines / elapsed:,.0f} | {rss} | {ratio} |")
    shares = sorted((w - n) / w for n, w in zip(no_parity, with_parity))  # each pair ran back to back
    summary = (f"\nParity-suite generation: {shares[len(shares) // 2]:.0%} of a cold port, the median of the "
               f"{len(shares)} pairs ({', '.join(f'{s:.0%}' for s in shares)}; every run without the cache).\n")
    text = f"# porter on a PyPI corpus, {datetime.date.today()}\n\n{header}\n" + "\n".join(table) + "\n" + summary
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
