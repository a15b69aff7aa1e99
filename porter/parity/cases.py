"""The case model: what one parity case runs, as editable data (YAML) or a decorated function.

No torch here: cases are plain data until the runner builds tensors from them.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable

from porter.parity import catalog
from porter.parity.standards import STANDARDS, known_thresholds

FLOAT_DTYPES = ("fp32", "fp16", "bf16", "fp64")
INT_DTYPES = ("int64", "int32", "int8", "uint8", "bool")
INITS = ("normal", "uniform", "randint", "distinct", "cumulative")
NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class CaseError(ValueError):
    """A case definition that cannot run: the message names the case and the field."""


@dataclass
class InputSpec:
    shape: list[int]
    dtype: str | None = None  # None: the case's dtype
    init: str | None = None  # None: normal for floats, randint for integers
    mean: float = 0.0
    std: float = 1.0
    low: float = 0.0
    high: float = 1.0
    requires_grad: bool | None = None  # None: floats get gradients when the case has a backward pass

    @classmethod
    def parse(cls, value, where: str) -> "InputSpec":
        if isinstance(value, list):
            value = {"shape": value}
        if not isinstance(value, dict) or "shape" not in value:
            raise CaseError(f"{where}: an input is a shape list or a mapping with 'shape'")
        unknown = set(value) - {f.name for f in cls.__dataclass_fields__.values()}
        if unknown:
            raise CaseError(f"{where}: unknown input field(s) {', '.join(sorted(unknown))}")
        spec = cls(**value)
        spec.shape = [int(n) for n in spec.shape]
        if any(n < 0 for n in spec.shape):
            raise CaseError(f"{where}: negative size in shape {spec.shape}")
        if spec.dtype is not None and spec.dtype not in FLOAT_DTYPES + INT_DTYPES:
            raise CaseError(f"{where}: dtype {spec.dtype!r} is not one of {', '.join(FLOAT_DTYPES + INT_DTYPES)}")
        if spec.init is not None and spec.init not in INITS:
            raise CaseError(f"{where}: init {spec.init!r} is not one of {', '.join(INITS)}")
        return spec

    def to_yaml(self):
        """A bare shape list when nothing else differs from the defaults, else a mapping."""
        data = {k: v for k, v in self.__dict__.items() if v != InputSpec.__dataclass_fields__[k].default}
        return self.shape if set(data) <= {"shape"} else {"shape": self.shape, **data}


@dataclass
class Case:
    name: str
    op: str
    dtype: str = "fp32"
    seed: int | None = None  # None: derived from the name
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    backward: bool = True
    tolerance: str | dict[str, str] | None = None  # a standard for every tensor, or per tensor key
    thresholds: dict[str, float] = field(default_factory=dict)
    original: str | None = None  # custom op: "module:function" run when recording
    ported: str | None = None  # custom op: run when comparing (default: original)
    benchmark: str | None = None  # custom op: run on CPU in high precision (default: original)
    source: str | None = None  # where the op was found, "path:line"
    note: str | None = None

    def __post_init__(self):
        if self.seed is None:
            self.seed = zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    @property
    def kind(self) -> catalog.OpKind:
        return catalog.kind(self.op)

    @property
    def world_size(self) -> int:
        return int(self.params.get("world_size", 1))

    def effective_params(self) -> dict:
        return {**self.kind.params, **self.params}

    def spec_hash(self) -> str:
        """Hash of everything that changes what is computed (not tolerances): a golden must match it."""
        defining = {
            "op": self.op, "dtype": self.dtype, "seed": self.seed, "backward": self.backward,
            "inputs": {k: v.__dict__ for k, v in self.inputs.items()}, "params": self.effective_params(),
            "original": self.original,
        }
        return hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()

    def to_yaml(self) -> dict:
        data = {"name": self.name, "op": self.op, "dtype": self.dtype, "seed": self.seed,
                "inputs": {k: v.to_yaml() for k, v in self.inputs.items()}}
        for key in ("params", "thresholds"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if not self.backward:
            data["backward"] = False
        for key in ("tolerance", "original", "ported", "benchmark", "source", "note"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_dict(cls, data: dict, where: str = "case") -> "Case":
        if not isinstance(data, dict):
            raise CaseError(f"{where}: a case is a mapping")
        where = f"{where} {data.get('name', '?')!r}"
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise CaseError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for required in ("name", "op"):
            if required not in data:
                raise CaseError(f"{where}: missing {required!r}")
        raw_inputs = data.get("inputs")
        try:
            if raw_inputs is None:
                raw_inputs = catalog.build_inputs(data["op"])
        except catalog.CatalogError as exc:
            raise CaseError(f"{where}: {exc}") from None
        inputs = {str(k): InputSpec.parse(v, f"{where} input {k!r}") for k, v in raw_inputs.items()}
        case = cls(**{**data, "inputs": inputs, "params": dict(data.get("params") or {}),
                      "thresholds": dict(data.get("thresholds") or {})})
        case.validate()
        return case

    def validate(self) -> None:
        where = f"case {self.name!r}"
        if not NAME.match(self.name):
            raise CaseError(f"{where}: a name uses letters, digits, '_', '.', '-' only")
        try:
            kind = self.kind
        except catalog.CatalogError as exc:
            raise CaseError(f"{where}: {exc}") from None
        if self.dtype not in FLOAT_DTYPES:
            raise CaseError(f"{where}: dtype {self.dtype!r} is not one of {', '.join(FLOAT_DTYPES)}")
        tolerances = self.tolerance.values() if isinstance(self.tolerance, dict) else [self.tolerance]
        for standard in tolerances:
            if standard is not None and standard not in STANDARDS:
                raise CaseError(f"{where}: tolerance {standard!r} is not one of {', '.join(STANDARDS)}")
        unknown = set(self.thresholds) - known_thresholds()
        if unknown:
            raise CaseError(f"{where}: unknown threshold(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(sorted(known_thresholds()))}")
        if kind.family == "custom" and not self.original:
            raise CaseError(f"{where}: a custom case names its 'original' callable as 'module:function'")
        if kind.family != "custom" and (self.original or self.ported or self.benchmark):
            raise CaseError(f"{where}: 'original'/'ported'/'benchmark' belong to custom cases only")
        if self.world_size < 1 and kind.family == "collective":
            raise CaseError(f"{where}: world_size is a positive number of ranks")

    def standard_for(self, key: str, integer: bool) -> str:
        """The standard judging one tensor ('output.out', 'grad.x'): integers are always exact."""
        if integer:
            return "exact"
        if isinstance(self.tolerance, dict) and key in self.tolerance:
            return self.tolerance[key]
        if isinstance(self.tolerance, str):
            return self.tolerance
        kind = self.kind
        if key in kind.standards:
            return kind.standards[key]
        if key.startswith("grad."):
            return kind.grad_standard or kind.output_standard
        return kind.output_standard


# Cases declared with @parity_case, by the module that declared them.
_DECLARED: dict[str, list[Case]] = {}


def parity_case(fn: Callable | None = None, *, inputs: dict, dtype: str | list[str] = "fp32", name: str | None = None,
                seed: int | None = None, params: dict | None = None, backward: bool = True,
                tolerance: str | dict | None = None, thresholds: dict | None = None,
                ported: Callable | str | None = None, benchmark: Callable | str | None = None):
    """Declare a user case: the decorated function is the op, called with the inputs as keywords.

    ``ported`` (a callable or "module:function") is what compare runs instead, for an
    original-vs-ported check; ``benchmark`` is the CPU high-precision yardstick when the original
    cannot run there. A list of dtypes declares one case per dtype, named ``<name>_<dtype>``.
    """

    def register(func: Callable) -> Callable:
        dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
        base = name or func.__name__
        for one in dtypes:
            case = Case.from_dict({
                "name": base if len(dtypes) == 1 else f"{base}_{one}", "op": "custom", "dtype": one,
                "seed": seed, "inputs": inputs, "params": params or {}, "backward": backward,
                "tolerance": tolerance, "thresholds": thresholds or {}, "original": import_path(func),
                "ported": import_path(ported) if ported else None,
                "benchmark": import_path(benchmark) if benchmark else None,
            }, where="@parity_case")
            _DECLARED.setdefault(func.__module__, []).append(case)
        return func

    return register(fn) if fn is not None else register


def import_path(target: Callable | str) -> str:
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def declared_in(module: str) -> list[Case]:
    return list(_DECLARED.get(module, []))


def forget_declared(module: str) -> None:
    """Drop a module's declared cases, before it is imported afresh."""
    _DECLARED.pop(module, None)
