"""Collective cases: world size 1 on the device's own backend, world size 2 in a CPU gloo group.

The two-rank group runs in two fresh Python processes that talk over loopback only, rendezvous through a
file store, and are killed when they overrun a bounded timeout. All two-rank cases of one call
share one group, so a suite pays the process start-up once. The benchmark is the collective's
definition computed directly in high precision from every rank's inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from porter.parity.device import distributed_backend
from porter.parity.dtypes import benchmark_dtype

TIMEOUT_S = 120
REDUCE_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN", "product": "PRODUCT"}


class CollectiveError(RuntimeError):
    pass


def run(jobs: list, device: str, role: str) -> dict[str, dict]:
    """``jobs``: (case, tensors) pairs. Returns case name -> outputs, or the exception it raised."""
    results: dict[str, dict | Exception] = {}
    if role == "benchmark":
        for case, tensors in jobs:
            results[case.name] = _definition(case, tensors)
        return _raise_single(results, jobs)
    single = [(c, t) for c, t in jobs if c.world_size == 1]
    pair = [(c, t) for c, t in jobs if c.world_size == 2]
    if single:
        results.update(_in_process(single, device))
    if pair:
        results.update(_spawned(pair))
    return _raise_single(results, jobs)


def _raise_single(results: dict, jobs: list) -> dict:
    if len(jobs) == 1 and isinstance(results[jobs[0][0].name], Exception):
        raise results[jobs[0][0].name]
    return results


def _rank_input(tensors: dict, rank: int) -> torch.Tensor:
    return tensors[f"input.x.r{rank}"]


def _definition(case, tensors: dict) -> dict:
    params = case.effective_params()
    world = case.world_size
    high = benchmark_dtype(case.dtype)
    inputs = [_rank_input(tensors, r).to(high) for r in range(world)]
    op = case.op
    if op in ("all_reduce", "reduce_scatter"):
        reduced = _reduce(torch.stack(inputs), params.get("reduce_op", "sum"))
        per_rank = [reduced] * world if op == "all_reduce" else list(reduced.chunk(world))
    elif op == "all_gather":
        per_rank = [torch.cat(inputs)] * world
    else:
        per_rank = [inputs[params.get("src", 0)]] * world
    return {f"output.out.r{r}": t.clone() for r, t in enumerate(per_rank)}


def _reduce(stacked: torch.Tensor, name: str) -> torch.Tensor:
    if name == "sum":
        return stacked.sum(0)
    if name == "max":
        return stacked.amax(0)
    if name == "min":
        return stacked.amin(0)
    if name == "product":
        return stacked.prod(0)
    raise CollectiveError(f"reduce_op {name!r} is not one of {', '.join(REDUCE_OPS)}")


def _collective(case, x: torch.Tensor) -> torch.Tensor:
    params = case.effective_params()
    world = dist.get_world_size()
    op = getattr(dist.ReduceOp, REDUCE_OPS.get(params.get("reduce_op", "sum"), "SUM"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # *_into_tensor names are deprecated, not gone
        if case.op == "all_reduce":
            out = x.clone()
            dist.all_reduce(out, op=op)
        elif case.op == "reduce_scatter":
            out = torch.empty(x.numel() // world, dtype=x.dtype, device=x.device)
            dist.reduce_scatter_tensor(out, x, op=op)
        elif case.op == "all_gather":
            out = torch.empty(x.numel() * world, dtype=x.dtype, device=x.device)
            dist.all_gather_into_tensor(out, x)
        else:
            out = x.clone()
            dist.broadcast(out, src=params.get("src", 0))
    return out


def _in_process(jobs: list, device: str) -> dict:
    if dist.is_initialized():
        raise CollectiveError("a process group already exists in this process; run parity cases in their own process")
    dist.init_process_group(distributed_backend(device), store=dist.HashStore(), rank=0, world_size=1,
                            timeout=timedelta(seconds=TIMEOUT_S))
    results = {}
    try:
        for case, tensors in jobs:
            try:
                results[case.name] = {"output.out.r0": _collective(case, _rank_input(tensors, 0).to(device)).cpu()}
            except Exception as exc:  # reported per case
                results[case.name] = exc
    finally:
        dist.destroy_process_group()
    return results


def _spawned(jobs: list) -> dict:
    """Run the jobs in a fresh two-process gloo group (``python -m porter.parity.collectives``).

    Plain subprocesses rather than multiprocessing's spawn: the workers never re-import the
    caller's __main__, and a hung group is killed at the deadline.
    """
    with tempfile.TemporaryDirectory(prefix="porter-parity-") as workdir:
        work = Path(workdir)
        inputs = {f"{case.name}/{k}": t.contiguous() for case, tensors in jobs for k, t in tensors.items()}
        save_file(inputs, work / "inputs.safetensors")
        (work / "jobs.json").write_text(json.dumps([case.to_yaml() for case, _ in jobs]))
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo",
               "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        ranks = [subprocess.Popen([sys.executable, "-m", "porter.parity.collectives", workdir, str(rank), "2"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for rank in range(2)]
        deadline = time.monotonic() + TIMEOUT_S
        try:
            for rank, process in enumerate(ranks):
                _, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 1))
                if process.returncode != 0:
                    last = (stderr or "").strip().splitlines()[-1:] or ["no output"]
                    raise CollectiveError(f"rank {rank} of the gloo group exited with {process.returncode}: {last[0]}")
        except subprocess.TimeoutExpired:
            raise CollectiveError(f"the 2-rank gloo group did not finish within {TIMEOUT_S} s") from None
        finally:
            for process in ranks:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        errors, outputs = {}, {}
        for rank in range(2):
            errors.update(json.loads((work / f"errors{rank}.json").read_text()))
            outputs.update(load_file(work / f"out{rank}.safetensors"))
    results = {}
    for case, _ in jobs:
        if case.name in errors:
            results[case.name] = CollectiveError(errors[case.name])
        else:
            prefix = f"{case.name}/"
            results[case.name] = {k.removeprefix(prefix): v for k, v in outputs.items() if k.startswith(prefix)}
    return results


def _worker(workdir: str, rank: int, world: int) -> None:
    from porter.parity.cases import Case

    work = Path(workdir)
    dist.init_process_group("gloo", init_method=f"file://{work / 'store'}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=TIMEOUT_S))
    inputs = load_file(work / "inputs.safetensors")
    outputs, errors = {}, {}
    try:
        for data in json.loads((work / "jobs.json").read_text()):
            case = Case.from_dict(data)
            try:
                x = inputs[f"{case.name}/input.x.r{rank}"]
                outputs[f"{case.name}/output.out.r{rank}"] = _collective(case, x).contiguous()
            except Exception as exc:  # reported per case; the group goes on with the next one
                errors[case.name] = f"rank {rank}: {type(exc).__name__}: {exc}"
    finally:
        dist.destroy_process_group()
    save_file(outputs, work / f"out{rank}.safetensors")
    (work / f"errors{rank}.json").write_text(json.dumps(errors))


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
