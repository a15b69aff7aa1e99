"""Hand-written math that Ascend runs faster as one fused operator: advice only, the code is never changed.

Each detector looks at one call and answers None when the call is not the pattern it knows. A detector's API is
also a prefilter trigger word (porter.engine), so only rare names qualify: `torch.rsqrt` yes, `torch.cat` no.
"""

from __future__ import annotations

import re

from porter.python.transforms.args import CallArgs, Refuse, signature

_MEAN_OF_SQUARES = re.compile(r"(\.pow\(2\)|\.square\(\)|\*\* ?2\)?)\.mean\(\s*(-1|dim=-1)")


@signature(("input",), 1)
def rms_norm(args: CallArgs) -> Refuse | None:
    """`x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)`: an RMSNorm written out."""
    if args.error or not _MEAN_OF_SQUARES.search(args.code("input") or ""):
        return None
    return Refuse("review", "an RMSNorm written out: torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0] computes "
                            "x * rsqrt(mean(x^2) + eps) * weight in one kernel")


TRANSFORMS = (rms_norm,)
