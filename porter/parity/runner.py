"""Running cases: seeded inputs, forward and backward on a device, the CPU high-precision benchmark.

Tensors travel as one flat dict per case, keyed ``input.<name>``, ``cotangent.<output>``,
``output.<name>`` and ``grad.<input>`` (collectives add ``.r<rank>``): the same keys the golden
files use.
"""

from __future__ import annotations

import torch

from porter.parity import collectives, ops
from porter.parity.cases import Case
from porter.parity.dtypes import benchmark_dtype
from porter.parity.inputs import make_cotangent, make_inputs  # noqa: F401  (make_inputs: re-exported)


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
            tensors[key] = make_cotangent(case, key, list(out.shape), out.dtype)
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
