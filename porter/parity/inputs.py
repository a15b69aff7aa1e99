"""Seeded inputs and cotangents: generated on the CPU in fp64 and rounded, so every device and every
later run regenerates the same bits from a case's seed (goldens keep only their hashes)."""

from __future__ import annotations

import zlib

import torch

from porter.parity.cases import Case, InputSpec
from porter.parity.dtypes import TORCH_DTYPES


def seed_for(case: Case, key: str) -> int:
    return (case.seed * 1_000_003 + zlib.crc32(key.encode())) & 0x7FFFFFFFFFFF


def random_tensor(spec: InputSpec, dtype: torch.dtype, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if spec.init == "cumulative":
        return cumulative(spec, dtype, gen)
    if not dtype.is_floating_point:
        if dtype == torch.bool:
            return torch.randint(0, 2, spec.shape, generator=gen).bool()
        return torch.randint(int(spec.low), int(spec.high), spec.shape, generator=gen, dtype=dtype)
    if spec.init == "distinct":
        return distinct(spec.shape, dtype, gen)
    if spec.init == "uniform":
        values = torch.rand(spec.shape, generator=gen, dtype=torch.float64) * (spec.high - spec.low) + spec.low
    elif spec.init == "randint":
        values = torch.randint(int(spec.low), int(spec.high), spec.shape, generator=gen).double()
    else:
        values = torch.randn(spec.shape, generator=gen, dtype=torch.float64) * spec.std + spec.mean
    return values.to(dtype)


BIT_VIEWS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
             torch.float64: torch.int64}


def distinct(shape: list[int], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """Each row a random permutation of consecutive representable values from 1.0 up: no ties,
    so index outputs (topk, sort, argmax) have one right answer on every backend."""
    width = shape[-1] if shape else 1
    one, largest = (int(torch.tensor([v], dtype=dtype).view(BIT_VIEWS[dtype])) for v in (1.0, torch.finfo(dtype).max))
    if one + width - 1 > largest:
        raise ValueError(f"init 'distinct': {width} distinct {dtype} values above 1.0 do not exist; use a shorter last dim")
    bits = one + torch.argsort(torch.rand(*shape[:-1], width, generator=gen), dim=-1)
    return bits.to(BIT_VIEWS[dtype]).view(dtype).reshape(shape)


def cumulative(spec: InputSpec, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """[0, l0, l0+l1, ..., high]: the boundaries of shape[0] - 1 sequences of at least one token each that
    together fill `high` tokens (flash-attn's cu_seqlens)."""
    if len(spec.shape) != 1 or spec.shape[0] < 2 or int(spec.high) < spec.shape[0] - 1:
        raise ValueError(f"init 'cumulative': shape [n + 1] with n >= 1 sequences and high >= n tokens, "
                         f"got shape {spec.shape} and high {spec.high}")
    total, count = int(spec.high), spec.shape[0] - 1
    cuts = (torch.randperm(total - 1, generator=gen)[:count - 1] + 1).sort().values
    return torch.cat([torch.zeros(1, dtype=torch.long), cuts, torch.full((1,), total)]).to(dtype)


def make_inputs(case: Case) -> dict[str, torch.Tensor]:
    """Seeded CPU inputs: generated in fp64 and rounded, so every device starts from the same bits."""
    tensors = {}
    ranks = range(case.world_size) if case.kind.family == "collective" else [None]
    for name, spec in case.inputs.items():
        dtype = TORCH_DTYPES[spec.dtype or case.dtype]
        for rank in ranks:
            key = f"input.{name}" if rank is None else f"input.{name}.r{rank}"
            tensors[key] = random_tensor(spec, dtype, seed_for(case, key))
    return tensors


def make_cotangent(case: Case, key: str, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    """The seeded cotangent ``key`` ('cotangent.<output>') that the backward pass of ``case`` uses."""
    return random_tensor(InputSpec(shape=list(shape)), dtype, seed_for(case, key))
