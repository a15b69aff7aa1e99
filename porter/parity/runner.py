"""Running cases: seeded inputs, forward and backward on a device, the CPU high-precision benchmark.

Tensors travel as one flat dict per case, keyed ``input.<name>``, ``cotangent.<output>``,
``output.<name>`` and ``grad.<input>`` (collectives add ``.r<rank>``): the same keys the golden
files use.
"""

from __future__ import annotations

import zlib

import torch

from porter.parity import collectives, ops
from porter.parity.cases import Case, InputSpec
from porter.parity.dtypes import TORCH_DTYPES, benchmark_dtype


def _seed(case: Case, key: str) -> int:
    return (case.seed * 1_000_003 + zlib.crc32(key.encode())) & 0x7FFFFFFFFFFF


def _random(spec: InputSpec, dtype: torch.dtype, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if not dtype.is_floating_point:
        if dtype == torch.bool:
            return torch.randint(0, 2, spec.shape, generator=gen).bool()
        return torch.randint(int(spec.low), int(spec.high), spec.shape, generator=gen, dtype=dtype)
    if spec.init == "distinct":
        return _distinct(spec.shape, dtype, gen)
    if spec.init == "uniform":
        values = torch.rand(spec.shape, generator=gen, dtype=torch.float64) * (spec.high - spec.low) + spec.low
    elif spec.init == "randint":
        values = torch.randint(int(spec.low), int(spec.high), spec.shape, generator=gen).double()
    else:
        values = torch.randn(spec.shape, generator=gen, dtype=torch.float64) * spec.std + spec.mean
    return values.to(dtype)


BIT_VIEWS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
             torch.float64: torch.int64}


def _distinct(shape: list[int], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """Each row a random permutation of consecutive representable values from 1.0 up: no ties,
    so index outputs (topk, sort, argmax) have one right answer on every backend."""
    width = shape[-1] if shape else 1
    one, largest = (int(torch.tensor([v], dtype=dtype).view(BIT_VIEWS[dtype])) for v in (1.0, torch.finfo(dtype).max))
    if one + width - 1 > largest:
        raise ValueError(f"init 'distinct': {width} distinct {dtype} values above 1.0 do not exist; use a shorter last dim")
    bits = one + torch.argsort(torch.rand(*shape[:-1], width, generator=gen), dim=-1)
    return bits.to(BIT_VIEWS[dtype]).view(dtype).reshape(shape)


def make_inputs(case: Case) -> dict[str, torch.Tensor]:
    """Seeded CPU inputs: generated in fp64 and rounded, so every device starts from the same bits."""
    tensors = {}
    ranks = range(case.world_size) if case.kind.family == "collective" else [None]
    for name, spec in case.inputs.items():
        dtype = TORCH_DTYPES[spec.dtype or case.dtype]
        for rank in ranks:
            key = f"input.{name}" if rank is None else f"input.{name}.r{rank}"
            tensors[key] = _random(spec, dtype, _seed(case, key))
    return tensors


def run(case: Case, tensors: dict[str, torch.Tensor], device: str, role: str) -> dict[str, torch.Tensor]:
    """Outputs and gradients of one case (CPU tensors); records its cotangents when none are given."""
    if case.kind.family == "collective":
        return collectives.run([(case, tensors)], device, role)[case.name]
    high = benchmark_dtype(case.dtype) if role == "benchmark" else None
    inputs = {k.removeprefix("input."): _place(t, device, high) for k, t in tensors.items() if k.startswith("input.")}
    differentiable = _differentiable(case, inputs)
    for name in differentiable:
        inputs[name].requires_grad_(True)
    params = _params(case)
    with torch.set_grad_enabled(bool(differentiable)):
        outputs = ops.forward_for(case.op, role)(inputs, params, device)
    result = {f"output.{k}": v.detach().cpu() for k, v in outputs.items()}
    if differentiable:
        result.update(_backward(case, inputs, outputs, differentiable, tensors, device, high))
    return result


def _place(tensor: torch.Tensor, device: str, high: torch.dtype | None) -> torch.Tensor:
    if high is not None and tensor.dtype.is_floating_point:
        tensor = tensor.to(high)
    return tensor.to(device).clone()


def _differentiable(case: Case, inputs: dict[str, torch.Tensor]) -> list[str]:
    if not case.backward or (case.kind.grad_standard is None and case.kind.family != "custom"):
        return []
    names = []
    for name, tensor in inputs.items():
        wanted = case.inputs[name].requires_grad
        if wanted is None:
            wanted = tensor.dtype.is_floating_point
        if wanted:
            names.append(name)
    return names


def _params(case: Case) -> dict:
    params = case.effective_params()
    if case.kind.family == "custom":
        original = case.original
        return {"kwargs": params,
                "callables": {"original": original, "ported": case.ported or original,
                              "benchmark": case.benchmark or original}}
    return params


def _backward(case, inputs, outputs, differentiable, tensors, device, high) -> dict[str, torch.Tensor]:
    """Gradients of sum(output * cotangent): the cotangents are seeded and recorded like inputs."""
    result = {}
    pairs = []
    for name, out in outputs.items():
        if not (out.requires_grad and out.dtype.is_floating_point):
            continue
        key = f"cotangent.{name}"
        if key not in tensors:
            tensors[key] = _random(InputSpec(shape=list(out.shape)), out.dtype, _seed(case, key))
            result[key] = tensors[key]
        pairs.append((out, _place(tensors[key], device, high)))
    if not pairs:
        return result
    grads = torch.autograd.grad([o for o, _ in pairs], [inputs[n] for n in differentiable],
                                grad_outputs=[c for _, c in pairs], allow_unused=True)
    for name, grad in zip(differentiable, grads):
        if grad is not None:
            result[f"grad.{name}"] = grad.detach().cpu()
    return result
