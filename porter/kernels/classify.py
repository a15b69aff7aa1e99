"""Kernel classes (elementwise / reduction / stencil / other), with a difficulty and what to do on Ascend C."""

from __future__ import annotations

import re
from dataclasses import dataclass

from porter.kernels.inventory import Kernel
from porter.kernels.syntax import compact

_NEIGHBOUR = re.compile(r"\[[A-Za-z_]\w*[+-]\d+\]")  # x[i - 1], x[i + 2]
_HALVING = re.compile(r"/=2\b|>>=1\b|=\w+/2;|=\w+>>1;")  # a tree reduction's stride

ADVICE = {
    ("elementwise", True): "generated completely: build the Ascend C project and run the parity cases on the NPU",
    ("elementwise", False): "an elementwise kernel porter could not read completely: start from the scaffold, "
                            "one vector instruction per operation (Add, Mul, Muls, Exp, ...), broadcast operands "
                            "copied once per tile",
    ("reduction", False): "tile the input per core, reduce each tile in the unified buffer (ReduceSum), then combine "
                          "the per-core partials (SetAtomicAdd on the final copy, or a second kernel); a plain sum/max "
                          "over a dimension is simply the torch op",
    ("stencil", False): "copy each tile with its halo (the neighbouring elements it reads) into the unified buffer, "
                        "then compute with vector instructions on shifted slices of the local tensor",
    ("other", False): "port by hand: the cube unit (Matmul API) for matrix products, vector instructions for the rest; "
                      "prefer an existing torch_npu op where one computes the same thing",
}


@dataclass(frozen=True)
class Classification:
    kind: str  # elementwise | reduction | stencil | other
    difficulty: str  # low | medium | high
    advice: str


def classify(kernel: Kernel, synthesised: bool, elementwise_shape: bool) -> Classification:
    """`elementwise_shape`: every load and store is at the thread index, whether or not each operation translates."""
    features = set(kernel.features)
    if features & {"tensor_core", "ptx"}:
        return Classification("other", "high", ADVICE["other", False])
    body = compact(kernel.body)
    if features & {"atomics", "warp"} or ({"shared", "barrier"} <= features and _HALVING.search(body)):
        difficulty = "high" if features & {"warp", "tensor_core"} else "medium"
        return Classification("reduction", difficulty, ADVICE["reduction", False])
    if _NEIGHBOUR.search(body) or {"shared", "barrier"} <= features:  # a tile exchanged through shared memory
        return Classification("stencil", "medium", ADVICE["stencil", False])
    if synthesised:
        return Classification("elementwise", "low", ADVICE["elementwise", True])
    if elementwise_shape:
        return Classification("elementwise", "medium", ADVICE["elementwise", False])
    return Classification("other", "medium" if not features else "high", ADVICE["other", False])
