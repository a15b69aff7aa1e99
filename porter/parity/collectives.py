"""Collective cases: world size 1 in process, larger worlds through torch's own launcher.

A world of N ranks is started with ``python -m torch.distributed.run`` (torchrun) on the device's
backend (gloo on the CPU, NCCL on GPUs, HCCL on NPUs), one rank per local device; extra launcher
arguments (``--nnodes``, ``--node-rank``, ``--rdzv-endpoint``... for several hosts) come from
``PORTER_PARITY_LAUNCHER_ARGS``, else a standalone local rendezvous is used. All cases of one world
size share one launch, killed when it overruns a bounded timeout. The benchmark is the
collective's definition computed directly in high precision from every rank's inputs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from porter.parity.device import distributed_backend
from porter.parity.dtypes import benchmark_dtype

TIMEOUT_S = 120
LAUNCHER_ARGS = "PORTER_PARITY_LAUNCHER_ARGS"
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
    if single:
        results.update(_in_process(single, device))
    for world in sorted({c.world_size for c, _ in jobs if c.world_size > 1}):
        results.update(_launched([(c, t) for c, t in jobs if c.world_size == world], device, world))
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


def _launched(jobs: list, device: str, world: int) -> dict:
    """Run the jobs in one ``world``-rank group started by torchrun (``-m porter.parity.collectives``)."""
    with tempfile.TemporaryDirectory(prefix="porter-parity-") as workdir:
        work = Path(workdir)
        inputs = {f"{case.name}/{k}": t.contiguous() for case, tensors in jobs for k, t in tensors.items()}
        save_file(inputs, work / "inputs.safetensors")
        (work / "jobs.json").write_text(json.dumps([case.to_yaml() for case, _ in jobs]))
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        if device == "cpu":
            env.setdefault("GLOO_SOCKET_IFNAME", "lo")
        command = [sys.executable, "-m", "torch.distributed.run", *launcher_args(world),
                   "-m", "porter.parity.collectives", workdir, device]
        try:
            launched = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CollectiveError(f"the {world}-rank {distributed_backend(device)} group did not finish within "
                                  f"{TIMEOUT_S} s") from None
        if launched.returncode != 0:
            last = (launched.stderr or "").strip().splitlines()[-3:] or ["no output"]
            raise CollectiveError(f"torchrun ({world} ranks, {distributed_backend(device)}) exited with "
                                  f"{launched.returncode}: {' | '.join(last)}")
        errors, outputs = {}, {}
        for rank in range(world):
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


def launcher_args(world: int) -> list[str]:
    """torchrun's arguments: the user's (``PORTER_PARITY_LAUNCHER_ARGS``) or one standalone local node."""
    given = shlex.split(os.environ.get(LAUNCHER_ARGS, ""))
    if not any(arg.split("=")[0] in ("--nproc-per-node", "--nproc_per_node") for arg in given):
        nodes = next((given[i + 1] for i, arg in enumerate(given[:-1]) if arg == "--nnodes"), "1")
        given += ["--nproc-per-node", str(world // max(int(nodes.split(":")[-1]), 1))]
    if not any(arg.startswith(("--rdzv", "--master", "--nnodes", "--standalone")) for arg in given):
        given.append("--standalone")
    return given


def _worker(workdir: str, device: str) -> None:
    """One rank, started by torchrun: RANK, WORLD_SIZE and LOCAL_RANK come from its environment.

    ``workdir`` must be shared by every host when the group spans several (each rank writes its outputs there).
    """
    from porter.parity.cases import Case

    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if device == "npu":
        import torch_npu  # noqa: F401  (registers the npu device and the hccl backend)
    place = "cpu" if device == "cpu" else f"{device}:{local}"
    if device != "cpu":
        getattr(torch, device).set_device(local)
    work = Path(workdir)
    dist.init_process_group(distributed_backend(device), rank=rank, world_size=world,
                            timeout=timedelta(seconds=TIMEOUT_S))
    inputs = load_file(work / "inputs.safetensors")
    outputs, errors = {}, {}
    try:
        for data in json.loads((work / "jobs.json").read_text()):
            case = Case.from_dict(data)
            try:
                x = inputs[f"{case.name}/input.x.r{rank}"].to(place)
                outputs[f"{case.name}/output.out.r{rank}"] = _collective(case, x).cpu().contiguous()
            except Exception as exc:  # reported per case; the group goes on with the next one
                errors[case.name] = f"rank {rank}: {type(exc).__name__}: {exc}"
    finally:
        dist.destroy_process_group()
    save_file(outputs, work / f"out{rank}.safetensors")
    (work / f"errors{rank}.json").write_text(json.dumps(errors))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
