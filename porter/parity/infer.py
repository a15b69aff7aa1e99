"""The standard of a custom op, inferred from how its benchmark behaves (nothing is read from its source).

An output is *elementwise* when it has the shape of an input and nudging one element of that
input moves only the same element of the output; anything else (a sum, a matmul, a normalisation,
a changed shape) is judged as a *reduction*. The answer is recorded in the golden manifest when a
case is recorded; a case's ``tolerance:`` still wins over it.
"""

from __future__ import annotations

import torch

from porter.parity import ops
from porter.parity.cases import Case
from porter.parity.dtypes import benchmark_dtype

PROBES = 4


def standards(case: Case, tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """``{"output.<name>": "elementwise" | "reduction"}`` for a custom case's float outputs."""
    high = benchmark_dtype(case.dtype)
    inputs = {k.removeprefix("input."): t.detach().to(high) if t.is_floating_point() else t
              for k, t in tensors.items() if k.startswith("input.")}
    forward = ops.forward_for(case.op, "benchmark")
    params = _params(case)
    with torch.no_grad():
        base = forward(inputs, params, "cpu")
    result = {}
    for name, out in base.items():
        if out.is_floating_point():
            result[f"output.{name}"] = "elementwise" if _is_elementwise(forward, params, inputs, name, out) else "reduction"
    return result


def _params(case: Case) -> dict:
    callables = {"original": case.original, "ported": case.ported or case.original,
                 "benchmark": case.benchmark or case.original}
    return {"kwargs": case.effective_params(), "callables": callables}


def _is_elementwise(forward, params, inputs: dict, name: str, out: torch.Tensor) -> bool:
    same_shape = [k for k, t in inputs.items() if t.is_floating_point() and t.shape == out.shape and t.numel() > 0]
    if not same_shape:
        return False
    source = same_shape[0]
    generator = torch.Generator().manual_seed(0)
    moved_any = False
    for index in torch.randint(0, out.numel(), (PROBES,), generator=generator).tolist():
        nudged = dict(inputs)
        flat = inputs[source].clone().reshape(-1)
        flat[index] += 2.0 ** -10 * (1 + flat[index].abs())
        nudged[source] = flat.reshape(inputs[source].shape)
        with torch.no_grad():
            changed = (forward(nudged, params, "cpu")[name] != out).reshape(-1)
        if bool(changed[:index].any()) or bool(changed[index + 1:].any()):
            return False
        moved_any |= bool(changed[index])
    return moved_any
