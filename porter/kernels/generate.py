"""Render the plans into the files of `<stem>_ascendc/`: .asc unit, tiling header, CMake project, composites, parity."""

from __future__ import annotations

import posixpath

from porter.kernels.plan import DTYPES, PARITY_SCALARS, PARITY_SHAPE, KernelPlan, OpPlan, op_dtypes
from porter.kernels.tiling import tile_bytes

PARITY_MODULE = "parity_cases.py"
from porter.templating import render


def folder(relpath: str) -> str:
    """`csrc/fma.cu` -> `csrc/fma_ascendc`; a header keeps its suffix (`fma_cuh_ascendc`) so `fma.cu` and
    `fma.cuh` never share a folder."""
    directory, name = posixpath.split(relpath)
    stem, suffix = posixpath.splitext(name)
    return posixpath.join(directory, stem + ("" if suffix.lower() == ".cu" else "_" + suffix[1:].lower()) + "_ascendc")


def _module(relpath: str) -> str | None:
    """The dotted module path of the generated folder, when every part is a Python identifier."""
    parts = folder(relpath).split("/")
    return ".".join(parts) if all(p.isidentifier() for p in parts) else None


def _kernel_context(plan: KernelPlan) -> dict:
    kernel = plan.kernel
    camel = "".join(part.capitalize() for part in kernel.name.split("_"))
    ew = plan.elementwise
    context = {
        "name": kernel.name, "cls": f"Porter{camel}Kernel", "entry": f"{kernel.name}_npu", "synthesised": plan.synthesised,
        "gm": plan.gm, "scalars": plan.scalars, "dtypes": [{"name": d, "widen": "true" if DTYPES[d][1] < 4 else "false"} for d in plan.dtypes],
        "classification": plan.classification.kind, "difficulty": plan.classification.difficulty,
        "advice": plan.classification.advice, "reason": plan.reason,
        "cuda_body": kernel.body.text.decode(errors="replace").splitlines(),
    }
    if plan.synthesised:
        context.update(inputs=ew.inputs, outputs=list(ew.outputs), temps=plan.program.temps,
                       statements=plan.program.statements,
                       summary="elementwise over " + ", ".join(ew.inputs) + " -> " + ", ".join(ew.outputs))
    return context


def _op_context(op: OpPlan, spellings: dict[str, list[str]]) -> dict:
    binding, plan = op.binding, op.kernel
    dtypes = op_dtypes(binding, plan, spellings)
    output = binding.returns
    tensors = [p.name for p in binding.params if p.kind == "tensor"]
    launch = []
    for param in plan.gm:
        kind, source = binding.args[param]
        launch.append(f"(uint8_t*){output if kind == 'output' else source}Npu.mutable_data_ptr()")
    for param in plan.scalars:
        kind, source = binding.args[param]
        launch.append(f"static_cast<float>({source}Npu.numel())" if kind == "numel" else f"static_cast<float>({source})")
    schema_types = {"tensor": "Tensor", "float": "float", "int": "int", "bool": "bool"}
    return {
        "name": binding.name, "op_name": binding.name, "kernel": binding.kernel, "entry": f"{binding.kernel}_npu",
        "signature": ", ".join(f"{p.cpp_type} {p.name}" for p in binding.params),
        "schema": f"{binding.name}(" + ", ".join(f"{schema_types[p.kind]} {p.name}" for p in binding.params) + ") -> Tensor",
        "tensors": tensors, "output": output, "same_size": [t for t in tensors if t not in op.broadcast], "like": binding.args[output][1],
        "numel": binding.args[plan.length][1] if plan.length else binding.args[output][1],
        "launch_args": launch,
        "dtypes": [{"name": d, "torch": DTYPES[d][0], "size": DTYPES[d][1]} for d in dtypes],
        "py_params": ", ".join(p.name for p in binding.params), "py_args": ", ".join(p.name for p in binding.params),
        "composite": op.composite, "composite_setup": op.composite_setup, "reason": op.reason,
        "summary": f"the composite of CUDA kernel `{binding.kernel}`",
        "parity_inputs": {t: ([PARITY_SHAPE[-1]] if t in op.broadcast else list(PARITY_SHAPE)) for t in tensors},
        "parity_params": {p.name: PARITY_SCALARS[p.kind] for p in binding.params if p.kind != "tensor"},
        "parity_dtypes": [DTYPES[d][2] for d in dtypes],
    }


def _stub_reason(op: OpPlan) -> str:
    kernel = op.kernel
    if kernel is not None and not kernel.synthesised:
        return f"kernel `{kernel.kernel.name}` ({kernel.classification.kind}): {kernel.reason}; {op.reason}"
    return op.reason


def _buffers(plan: KernelPlan) -> int:
    """Tile-sized buffers of one kernel, counted for a 16-bit T: its queues double-buffered, and a float buffer
    (twice the tile's bytes) per temporary and per widened input and output."""
    tensors = len(plan.elementwise.inputs) + len(plan.elementwise.outputs)
    return 2 * tensors + 2 * (plan.program.temps + tensors)


def generate(relpath: str, plans: list[KernelPlan], ops: list[OpPlan], define_ops: bool, contexts: dict) -> dict[str, bytes]:
    """Output-tree path -> bytes of every generated file for one .cu file (nothing when it has no kernel)."""
    if not plans:
        return {}
    out = folder(relpath)
    stem = posixpath.splitext(posixpath.basename(relpath))[0]
    buffers = max([_buffers(p) for p in plans if p.synthesised] or [2])
    hosted = [op for op in ops if op.kernel is not None and op.binding.returns]  # ops whose launch was traced
    namespace = ops[0].binding.namespace if ops else f"porter_{stem}"
    common = {"source": relpath, "namespace": namespace, "define_ops": define_ops, "module": _module(relpath)}
    op_contexts = [_op_context(op, contexts["dispatch"]) for op in hosted]
    stubs = [{"name": op.binding.name, "return_type": op.binding.return_type, "reason": _stub_reason(op),
              "signature": ", ".join(f"{p.cpp_type} {p.name}" for p in op.binding.params)}
             for op in ops if op not in hosted and op.binding.return_type]
    files = {
        f"{out}/{stem}.asc": render("ascendc_kernel.asc.j2", **common, kernels=[_kernel_context(p) for p in plans],
                                    ops=op_contexts, stubs=stubs, cpp_namespace=f"{namespace}_npu", folder=out,
                                    tiling_header=f"{stem}_tiling.h"),
        f"{out}/{stem}_tiling.h": render("ascendc_tiling.h.j2", **common, rule="KRN301",
                                         tile_bytes=tile_bytes(buffers, contexts["ub_budget_bytes"]), buffers=buffers,
                                         ub_budget=contexts["ub_budget_bytes"], max_cores=contexts["max_cores"]),
        f"{out}/CMakeLists.txt": render("ascendc_CMakeLists.txt.j2", **common, library=f"{stem}_npu",
                                        asc_file=f"{stem}.asc"),
    }
    if op_contexts:
        files[f"{out}/composite.py"] = render("ascendc_composite.py.j2", **common, ops=op_contexts)
        if common["module"] and any(op["composite"] for op in op_contexts):
            files[f"{out}/{PARITY_MODULE}"] = render("ascendc_parity_cases.py.j2", **common, ops=op_contexts)
    return {path: text.encode() for path, text in files.items()}
