"""Parity cases for what porter converted into another operator: a `--fuse` rewrite (the written-out product,
as one expression of its inputs where it read names assigned before it, against the fused call) or a CUDA-only
library call (flash-attn's against torch_npu's). The original code is recorded on the reference device and
benchmarked in high precision on the CPU; the converted call runs when comparing. Where an operator cannot run
(no NPU, no CUDA build of the library) porter.parity.models stands in, so a CPU run already checks the
translation of the arguments. No torch here: this writes source."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

import porter
from porter.findings import Finding
from porter.lossless_io import write_atomic
from porter.python.base import bare_code, code_of, parsed
from porter.python.transforms.apex import ADAM, NORM, SGD
from porter.python.transforms.attention import DENSE, KV_PACKED, KVCACHE, QKV_PACKED, VARLEN, XFORMERS
from porter.templating import render

MODULE = "converted_cases"
TEMPLATE = "parity_converted_cases.py.j2"
HIDDEN, SEQ, HEADS, HEAD_DIM = 1024, 256, 8, 64
STEPS = 3  # optimizer steps a case takes


@dataclass(frozen=True)
class Operands:
    """How a case feeds one kind of conversion. `side`: whose call names the operands (the converted call for a
    fusion, whose original is a product; the original call for a library). `params` in positional order;
    `operands` are named as themselves in the case (its tensor inputs, an optimizer's parameters), every other
    parameter keeps its literal or, when the code computes it at run time, becomes a named constant with its
    default. `inputs`: the case's tensors; `use`: the case's expression around the call."""

    side: str
    params: tuple[str, ...]
    inputs: dict[str, object]
    defaults: dict[str, object]
    dtypes: tuple[str, ...]
    tolerance: str
    operands: tuple[str, ...] | None = None  # default: the inputs
    library: str | None = None  # the module the original calls, through porter.parity.models.library_for
    zero: tuple[str, ...] = ()  # parameters that must be 0 to compare at all (a dropout draws random numbers)
    bounds: tuple[str, ...] = ()  # limits the case's own inputs must keep: always their defaults
    use: str = "{call}"
    shaped_by: str | None = None  # its value (an int or a tuple) is the trailing shape of every input
    backward: bool = True
    # other options, allowed at these (default) values; `...`: at any literal (one that changes nothing computed)
    passable: dict[str, object] = field(default_factory=dict)
    optional: tuple[str, ...] = ()  # inputs a call may leave out: its case then has none
    # parameters whose value may build one of these library classes without arguments (`xops.LowerTriangularMask()`),
    # spelled in the case through the library (porter's stand-in where the library cannot run)
    instances: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def named(self) -> tuple[str, ...]:
        return tuple(self.inputs) if self.operands is None else self.operands


_BSND = [2, SEQ, HEADS, HEAD_DIM]
# Fewer queries than keys, so that the alignment of a causal mask counts (top left and bottom right differ).
_QUERIES = [2, SEQ // 2, HEADS, HEAD_DIM]
TOKENS = 2 * SEQ  # of the packed (TND) sequences
_TND = [TOKENS, HEADS, HEAD_DIM]
_CU_SEQLENS = {"shape": [5], "dtype": "int32", "init": "cumulative", "high": TOKENS}  # 4 sequences
_FLASH = {"dropout_p": 0.0, "softmax_scale": None, "causal": False}
# flash-attn's options past `causal` (its signatures: porter.python.transforms.attention), at their defaults
_FLASH_OPTIONS = {"window_size": (-1, -1), "softcap": 0.0, "alibi_slopes": None, "deterministic": False,
                  "return_attn_probs": False}
_XFORMERS = {"query": _QUERIES, "key": _BSND, "value": _BSND}
DECODE, KV_HEADS = 4, 2  # new queries attending to the cache; the cache's (grouped) heads
_CACHE = [2, SEQ, KV_HEADS, HEAD_DIM]
# Each batch's filled length: longer than the query (no query row without a key) and shorter than the cache (keys
# past it exist, and a translation that reads them shows).
_CACHE_SEQLENS = {"shape": [2], "dtype": "int32", "init": "randint", "low": DECODE + 1, "high": SEQ}
# flash_attn_with_kvcache's options that write, rotate, gather or page the cache (porter converts none of them)
# and those past `causal`, at their defaults; how the GPU splits its work and how it would rotate (there are no
# rotary tables in a converted call) at any value
_KVCACHE_OPTIONS = {**dict.fromkeys(("k", "v", "rotary_cos", "rotary_sin", "cache_batch_idx", "cache_leftpad",
                                     "block_table")),
                    "window_size": (-1, -1), "softcap": 0.0, "rotary_interleaved": ..., "alibi_slopes": None,
                    "num_splits": ..., "return_softmax_lse": False}
# Activations small enough that the norm's eps moves the result: a translation that changes eps shows.
_NORMED = {"x": {"shape": [4, 64], "std": 0.01}}
# Small weights and gradients of one sign: the steps add up instead of cancelling, and the distance moved stays
# well above the rounding of the weights (the case returns that distance), while a weight decay still moves it by
# 0.05-0.2% (weight_decay 0.1).
_STEPPED = {"weight": {"shape": [64, 64], "init": "uniform", "low": 0.005, "high": 0.02, "requires_grad": False},
            "grad": {"shape": [STEPS, 64, 64], "init": "uniform", "low": 0.5, "high": 1.5, "requires_grad": False}}
_OPTIMIZER = dict(inputs=_STEPPED, dtypes=("fp32",), tolerance="elementwise", operands=("params",),
                  library="apex.optimizers", use="optimizer_steps(lambda params: {call}, weight, grad)",
                  backward=False)
_NORM = dict(inputs=_NORMED, defaults={"normalized_shape": HIDDEN}, dtypes=("fp32", "bf16"), tolerance="reduction",
             operands=(), library="apex.normalization", use="{call}.to(x)(x)", shaped_by="normalized_shape")
KINDS = {
    "npu_rms_norm": Operands(
        "converted", ("x", "gamma", "epsilon"),
        {"x": [4, 128, HIDDEN], "gamma": {"shape": [HIDDEN], "init": "uniform", "low": 0.5, "high": 1.5}},
        {"epsilon": 1e-6}, ("fp32", "bf16"), "reduction"),
    "npu_swiglu": Operands("converted", ("x", "dim"), {"x": [4, 128, HIDDEN]}, {"dim": -1}, ("fp32", "bf16"),
                           "elementwise"),
    "flash_attn_func": Operands(
        "original", DENSE[:6], {"q": _QUERIES, "k": _BSND, "v": _BSND},
        _FLASH, ("bf16", "fp16"), "reduction", library="flash_attn", zero=("dropout_p",), passable=_FLASH_OPTIONS),
    "flash_attn_qkvpacked_func": Operands(  # one tensor: as many queries as keys, so no causal alignment shows
        "original", QKV_PACKED[:4], {"qkv": [2, SEQ, 3, HEADS, HEAD_DIM]},
        _FLASH, ("bf16", "fp16"), "reduction", library="flash_attn", zero=("dropout_p",), passable=_FLASH_OPTIONS),
    "flash_attn_kvpacked_func": Operands(
        "original", KV_PACKED[:5], {"q": _QUERIES, "kv": [2, SEQ, 2, HEADS, HEAD_DIM]},
        _FLASH, ("bf16", "fp16"), "reduction", library="flash_attn", zero=("dropout_p",), passable=_FLASH_OPTIONS),
    "flash_attn_varlen_func": Operands(
        "original", VARLEN[:10],
        {"q": _TND, "k": _TND, "v": _TND, "cu_seqlens_q": _CU_SEQLENS, "cu_seqlens_k": _CU_SEQLENS},
        {"max_seqlen_q": TOKENS, "max_seqlen_k": TOKENS, **_FLASH},
        ("bf16", "fp16"), "reduction", library="flash_attn", zero=("dropout_p",),
        bounds=("max_seqlen_q", "max_seqlen_k"), passable=_FLASH_OPTIONS),
    "flash_attn_with_kvcache": Operands(
        "original", KVCACHE[:13],
        {"q": [2, DECODE, HEADS, HEAD_DIM], "k_cache": _CACHE, "v_cache": _CACHE, "cache_seqlens": _CACHE_SEQLENS},
        {"softmax_scale": None, "causal": False}, ("bf16", "fp16"), "reduction", library="flash_attn",
        backward=False, passable=_KVCACHE_OPTIONS, optional=("cache_seqlens",)),  # the NPU operator is for inference
    "memory_efficient_attention": Operands(
        "original", XFORMERS[:6], _XFORMERS, {"p": 0.0, "scale": None}, ("bf16", "fp16"), "reduction",
        library="xformers.ops", zero=("p",), passable={"op": None, "output_dtype": None},
        instances={"attn_bias": ("LowerTriangularMask", "LowerTriangularFromBottomRightMask")}),
    "FusedLayerNorm": Operands("original", NORM, **_NORM),
    "FusedRMSNorm": Operands("original", NORM, **_NORM),
    # Run-time hyperparameters get typical training values, not Apex's defaults: a weight decay of 0 would hide
    # how it is applied (decoupled in AdamW, added to the gradient in Adam).
    "FusedAdam": Operands("original", ADAM, defaults={"lr": 1e-3, "weight_decay": 0.1}, **_OPTIMIZER),
    "FusedSGD": Operands("original", SGD,
                         defaults={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}, **_OPTIMIZER),
}


@dataclass(frozen=True)
class ConvertedCase:
    name: str
    source: str  # "path:line" of the conversion
    params: str  # the inputs, as the functions' parameters
    constants: tuple[str, ...]  # `causal = False  # self.causal at run time`
    imports: tuple[str, ...]  # the module's own imports of torch names the original code uses (`rsqrt`)
    library: str | None  # "apex.optimizers"
    alias: str | None  # the name the case binds it to: "apex_optimizers"
    inputs: dict
    dtypes: list[str]
    tolerance: str
    backward: bool
    original: str
    converted: str


def converted_cases(conversions: list[tuple[str, Finding]], sources: dict[str, str]) -> list[ConvertedCase]:
    """One case per distinct conversion (original code, converted code) whose kind is in KINDS; `sources`
    (path -> text) gives the imports the original code relies on."""
    cases, seen = [], set()
    tree_of = functools.cache(lambda path: parsed(sources.get(path, "")))  # each file parsed once, when needed
    for path, finding in conversions:
        case = _case(path, finding, {c.name for c in cases}, functools.partial(tree_of, path))
        if case is not None and (case.original, case.converted) not in seen:
            seen.add((case.original, case.converted))
            cases.append(case)
    return cases


def write_module(out_dir: Path, cases: list[ConvertedCase]) -> tuple[str, ...]:
    """Write the cases' module into the suite directory (or remove an earlier port's); the modules to list."""
    path = out_dir / f"{MODULE}.py"
    if not cases:
        path.unlink(missing_ok=True)
        return ()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render(TEMPLATE, cases=cases, porter_version=porter.__version__, module=MODULE).encode())
    return (MODULE,)


def _case(path: str, finding: Finding, taken: set[str], tree: Callable[[], ast.Module | None]) -> ConvertedCase | None:
    try:
        original = cst.parse_expression(finding.computes or finding.original)
        converted = cst.parse_expression(finding.replacement)
    except (cst.ParserSyntaxError, TypeError):
        return None
    converted_call = converted.value if isinstance(converted, cst.Subscript) else converted
    name, kind = next(((n, KINDS[n]) for n in (_callee(original), _callee(converted_call)) if n in KINDS), (None, None))
    if kind is None:
        return None
    call = original if kind.side == "original" else converted_call
    bound = _bind(call, kind.params, kind.passable)
    required = (*(n for n in kind.named if n not in kind.optional), *filter(None, [kind.shaped_by]))
    if bound is None or any(p not in bound for p in required):
        return None
    substitute, constants = {}, []
    inputs = {input_: spec for input_, spec in kind.inputs.items() if input_ in bound or input_ not in kind.optional}
    alias = kind.library.replace(".", "_") if kind.library else None
    for param, value in bound.items():
        literal = _literal(value)
        if param in kind.named:
            if literal is _UNKNOWN:
                substitute[bare_code(value)] = param
            elif param in kind.optional and _drawable(literal, kind.inputs[param]):
                del inputs[param]  # the call keeps it: `cache_seqlens=100` on every batch
            else:
                return None  # `cache_seqlens=1000`: not an input this case could generate
            continue
        if param in kind.instances and literal is _UNKNOWN:
            built = _built_class(value, kind.instances[param], tree)
            if built is None:
                return None  # an object no model stands in for
            substitute[code_of(value.func)] = f"{alias}.{built}"
            continue
        if param == kind.shaped_by:
            shape = _trailing_shape(kind.defaults[param] if literal is _UNKNOWN else literal)
            if shape is None:
                return None
            inputs = {name: _ending_in(spec, shape) for name, spec in inputs.items()}
        if param in kind.bounds:
            substitute[bare_code(value)] = param
            constants.append(f"{param} = {kind.defaults[param]!r}  # `{code_of(value)}` in the code; this case's bound")
        elif literal is _UNKNOWN:
            substitute[bare_code(value)] = param
            constants.append(f"{param} = {kind.defaults[param]!r}  # `{code_of(value)}` at run time")
        elif param in kind.zero and literal:
            return None  # a random draw on each side: nothing to compare
    if alias:
        substitute[code_of(call.func)] = f"{alias}.{name}"
    original_code = kind.use.format(call=code_of(original.visit(_Substitute(substitute))))
    imports = _imports_for(original_code, {*kind.params, *inputs, "torch", "optimizer_steps", alias or "torch"}, tree)
    if imports is None:
        return None
    line = finding.span.line if finding.span else 0
    stem = re.sub(r"\W+", "_", f"{path.removesuffix('.py')}_{line}").strip("_")
    return ConvertedCase(
        name=_unique(f"{name}_{stem}", taken), source=f"{path}:{line}", params=", ".join(inputs),
        constants=tuple(constants), imports=imports, library=kind.library, alias=alias, inputs=inputs,
        dtypes=list(kind.dtypes), tolerance=kind.tolerance, backward=kind.backward, original=original_code,
        converted=kind.use.format(call=code_of(converted.visit(_Substitute(substitute)))))


def _trailing_shape(value) -> list[int] | None:
    """A normalized_shape as a list: 1024 -> [1024], (8, 128) -> [8, 128]; None for anything else."""
    shape = [value] if isinstance(value, int) else list(value) if isinstance(value, (tuple, list)) else None
    if shape is None or not all(isinstance(n, int) and 0 < n <= HIDDEN * 4 for n in shape):
        return None
    return shape


def _ending_in(spec, shape: list[int]):
    if isinstance(spec, list):
        return [*spec, *shape]
    return {**spec, "shape": [*spec["shape"], *shape]}


def _callee(node: cst.BaseExpression) -> str | None:
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None


def _bind(call: cst.Call, params: tuple[str, ...], passable: dict[str, object]) -> dict[str, cst.BaseExpression] | None:
    bound = {}
    for index, arg in enumerate(call.args):
        if arg.star or (arg.keyword is None and index >= len(params)):
            return None
        param = arg.keyword.value if arg.keyword else params[index]
        literal = _literal(arg.value)
        if param in passable and literal is not _UNKNOWN and passable[param] in (literal, ...):
            continue  # stays in the original call, which accepts it; the converted call never had it
        if param in passable or param not in params:
            return None  # an option no case models: leave it to the user's own cases
        bound[param] = arg.value
    return bound


_UNKNOWN = object()


def _literal(node: cst.BaseExpression):
    try:
        return ast.literal_eval(code_of(node))
    except (ValueError, SyntaxError):
        return _UNKNOWN


def _drawable(literal, spec: dict) -> bool:
    """Whether an optional input's literal is one the case could have drawn (an int within its `randint` range)
    or None (no input)."""
    return literal is None or type(literal) is int and spec.get("init") == "randint" and \
        spec["low"] <= literal < spec["high"]


def _built_class(node: cst.BaseExpression, classes: tuple[str, ...],
                 tree: Callable[[], ast.Module | None]) -> str | None:
    """Which of `classes` the expression builds without arguments: `xops.LowerTriangularMask()` ->
    LowerTriangularMask, `Causal()` after `from xformers.ops import LowerTriangularMask as Causal` too; None for
    anything else."""
    name = _callee(node)
    if node.args or name is None:
        return None
    if name not in classes:  # an alias: the conversion resolved it to one of the classes, the imports say which
        module = tree()
        if module is None:
            return None
        named = {a.name for n in ast.walk(module) if isinstance(n, ast.ImportFrom) for a in n.names if a.asname == name}
        name = named.pop() if len(named) == 1 else None
    return name if name in classes else None


class _Substitute(cst.CSTTransformer):
    """Replace each operand (by its source text, parentheses aside) with the case's parameter or constant name."""

    def __init__(self, names: dict[str, str]) -> None:
        super().__init__()
        self.names = names

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not (isinstance(node, cst.BaseExpression) and bare_code(node) in self.names)

    def on_leave(self, original_node, updated_node):
        if isinstance(original_node, cst.BaseExpression) and bare_code(original_node) in self.names:
            name = cst.parse_expression(self.names[bare_code(original_node)])
            return name.with_changes(lpar=original_node.lpar, rpar=original_node.rpar)
        return updated_node


def _imports_for(code: str, known: set[str], tree: Callable[[], ast.Module | None]) -> tuple[str, ...] | None:
    """The import statements of the file (`tree()`) that bind the names `code` uses beyond `known`; None when one is not
    bound by an import from torch (the suite never imports the ported code itself)."""
    needed = {node.id for node in ast.walk(ast.parse(code, mode="eval")) if isinstance(node, ast.Name)} - known
    if not needed:
        return ()
    module = tree()
    if module is None:
        return None
    lines = {}
    for node in ast.walk(module):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                module = alias.name if isinstance(node, ast.Import) else node.module or ""
                if bound in needed and (module == "torch" or module.startswith("torch.")):
                    lines[bound] = ast.unparse(type(node)(**{**node.__dict__, "names": [alias]}))
    return tuple(lines[name] for name in sorted(needed)) if needed <= set(lines) else None


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate
