"""Parity cases for the fused operators `porter port --fuse` wrote: the user's written-out product against the
fused call. The written-out form is recorded on the reference device and benchmarked in high precision on the
CPU; the fused call runs when comparing, on an NPU the real operator, elsewhere its model from
porter.parity.npu_models (so a CPU run checks the argument translation). No torch here: this writes source."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

import porter
from porter.findings import Finding
from porter.lossless_io import write_atomic
from porter.python.base import code_of, dotted_text
from porter.templating import render

MODULE = "fused_cases"
TEMPLATE = "parity_fused_cases.py.j2"
HIDDEN = 1024


@dataclass(frozen=True)
class FusedOp:
    """How to feed one fused operator: its tensor operands' names and input specs, its constants' defaults."""

    tensors: dict[str, object]
    constants: dict[str, float]


OPS = {
    "npu_rms_norm": FusedOp(
        tensors={"x": [4, 128, HIDDEN], "gamma": {"shape": [HIDDEN], "init": "uniform", "low": 0.5, "high": 1.5}},
        constants={"epsilon": 1e-6},
    ),
}


@dataclass(frozen=True)
class FusedCase:
    name: str
    source: str  # "path:line" of the rewrite
    params: str  # the tensor operands, as the functions' parameters
    constants: tuple[str, ...]  # `epsilon = 1e-06` lines for operands the code computes at run time
    imports: tuple[str, ...]  # the module's own imports of torch names the written-out code uses (`rsqrt`)
    inputs: dict
    written_out: str
    fused: str


def fused_cases(rewrites: list[tuple[str, Finding]], sources: dict[str, str]) -> list[FusedCase]:
    """One case per distinct rewrite (written-out code, fused code), from the fusion findings of a port;
    `sources` (path -> text) gives the imports the written-out code relies on."""
    cases, seen = [], set()
    for path, finding in rewrites:
        case = _case(path, finding, {c.name for c in cases}, sources.get(path, ""))
        if case is not None and (case.written_out, case.fused) not in seen:
            seen.add((case.written_out, case.fused))
            cases.append(case)
    return cases


def write_module(out_dir: Path, cases: list[FusedCase]) -> tuple[str, ...]:
    """Write the cases' module into the suite directory (or remove an earlier port's); the modules to list."""
    path = out_dir / f"{MODULE}.py"
    if not cases:
        path.unlink(missing_ok=True)
        return ()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render(TEMPLATE, cases=cases, porter_version=porter.__version__, module=MODULE).encode())
    return (MODULE,)


def _case(path: str, finding: Finding, taken: set[str], source: str) -> FusedCase | None:
    try:
        written, fused = cst.parse_expression(finding.original), cst.parse_expression(finding.replacement)
    except (cst.ParserSyntaxError, TypeError):
        return None
    call = fused.value if isinstance(fused, cst.Subscript) else fused
    op = OPS.get((dotted_text(call.func) or "").rsplit(".", 1)[-1]) if isinstance(call, cst.Call) else None
    if op is None or len(call.args) > len(op.tensors) + len(op.constants):
        return None
    names = [*op.tensors, *op.constants]
    operands = {arg.keyword.value if arg.keyword else names[i]: arg.value for i, arg in enumerate(call.args)}
    substitute = {code_of(value): name for name, value in operands.items()
                  if not isinstance(value, (cst.Integer, cst.Float))}
    constants = tuple(f"{name} = {op.constants[name]!r}  # `{code}` at run time"
                      for code, name in substitute.items() if name in op.constants)
    written_out = code_of(written.visit(_Substitute(substitute)))
    imports = _imports_for(written_out, {*names, "torch"}, source)
    if imports is None:
        return None
    stem = re.sub(r"\W+", "_", f"{path.removesuffix('.py')}_{finding.span.line if finding.span else 0}").strip("_")
    name = _unique(f"fused_{call.func.attr.value if isinstance(call.func, cst.Attribute) else 'op'}_{stem}", taken)
    return FusedCase(name=name, source=f"{path}:{finding.span.line if finding.span else '?'}",
                     params=", ".join(op.tensors), constants=constants, imports=imports, inputs=dict(op.tensors),
                     written_out=written_out, fused=code_of(fused.visit(_Substitute(substitute))))


def _imports_for(code: str, known: set[str], source: str) -> tuple[str, ...] | None:
    """The import statements of `source` that bind the names `code` uses beyond `known`; None when one is not
    bound by an import from torch (the suite never imports the ported code itself)."""
    needed = {node.id for node in ast.walk(ast.parse(code, mode="eval")) if isinstance(node, ast.Name)} - known
    if not needed:
        return ()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                module = alias.name if isinstance(node, ast.Import) else node.module or ""
                if bound in needed and (module == "torch" or module.startswith("torch.")):
                    lines[bound] = ast.unparse(type(node)(**{**node.__dict__, "names": [alias]}))
    return tuple(lines[name] for name in sorted(needed)) if needed <= set(lines) else None


class _Substitute(cst.CSTTransformer):
    """Replace each operand (by its source text) with the case's parameter or constant name."""

    def __init__(self, names: dict[str, str]) -> None:
        super().__init__()
        self.names = names

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not (isinstance(node, cst.BaseExpression) and code_of(node) in self.names)

    def on_leave(self, original_node, updated_node):
        if isinstance(original_node, cst.BaseExpression) and code_of(original_node) in self.names:
            return cst.Name(self.names[code_of(original_node)])
        return updated_node


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate
