"""Benchmark one Python file with an edit on every line, at growing sizes: the per-line cost must stay flat.

    python bench/bench_dense_file.py --lines 500 1000 2000 4000

Each file is a function of `x = xs[i].cuda()` statements (siblings of one block) followed by an `if
torch.cuda.is_available():` block of `torch.zeros(i, device='cuda')` calls, so every safety policy and the residual
pass see thousands of proposed edits. Prints seconds and microseconds per line for `port_python` in this process.
"""

from __future__ import annotations

import argparse
import time

from porter.python import port_python
from porter.ruleset import load_ruleset


def dense_source(lines: int) -> str:
    calls, devices = lines * 3 // 4, lines // 4
    body = ["import torch", "", "def move(xs):"]
    body += [f"    a{i} = xs[{i}].cuda()" for i in range(calls)]
    body += ["    return a0", "", "if torch.cuda.is_available():"]
    body += [f"    b{i} = torch.zeros({i}, device='cuda')" for i in range(devices)]
    return "\n".join(body) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    args = parser.parse_args()
    ruleset = load_ruleset("2.13.0")
    print("| lines | seconds | µs per line | findings |")
    print("|---|---|---|---|")
    for lines in args.lines:
        source = dense_source(lines)
        start = time.perf_counter()
        _, findings = port_python(source, ruleset)
        seconds = time.perf_counter() - start
        print(f"| {lines} | {seconds:.2f} | {seconds / lines * 1e6:.0f} | {len(findings)} |")


if __name__ == "__main__":
    main()
