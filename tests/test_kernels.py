"""Kernel inventory, classification, elementwise reading, lowering, composites and op: custom parity."""

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from porter.kernels import port_kernels
from porter.kernels.inventory import kernels
from porter.kernels.ir import read_elementwise
from porter.kernels.lower import vector_program
from porter.kernels.plan import plan_kernel
from porter.kernels.syntax import outline, parse
from porter.parity import judge, runner
from porter.parity.cases import Case
from porter.ruleset import RuleSet, load_rule_file

ROOT = Path(__file__).resolve().parent.parent
RULES = RuleSet(tuple(load_rule_file(ROOT / "rules" / "kernels.yaml")), "2.13.0")
CONTEXTS = RULES.by_id("KRN301").contexts
PATTERNS = {name: re.compile(regex) for name, regex in RULES.by_id("KRN304").contexts.items()}
INSTRUCTIONS = {op: names[0] for op, names in CONTEXTS["vector_ops"].items()}


def _kernel(source: str):
    return kernels(outline(parse(source.encode()))[0], PATTERNS)[0]


def _body(params: str, body: str) -> str:
    return f"__global__ void k({params}) {{ int i = blockIdx.x * blockDim.x + threadIdx.x; {body} }}"


# reading elementwise bodies ---------------------------------------------------------------------------------------

def test_guard_and_grid_stride_forms_read_the_same():
    guarded = read_elementwise(_kernel(_body("const float* x, float* y, int n", "if (i < n) y[i] = x[i] * 2.f;")), CONTEXTS)
    early = read_elementwise(_kernel(_body("const float* x, float* y, int n", "if (i >= n) return; y[i] = x[i] * 2.f;")), CONTEXTS)
    loop = read_elementwise(_kernel(
        "__global__ void k(const float* x, float* y, int n) { for (int i = threadIdx.x + blockIdx.x * blockDim.x;"
        " i < n; i += gridDim.x * blockDim.x) { y[i] = x[i] * 2.f; } }"), CONTEXTS)
    assert guarded.outputs == early.outputs == loop.outputs
    assert guarded.length == "n" and guarded.inputs == ["x"]


@pytest.mark.parametrize("index", ["(int64_t)blockIdx.x * blockDim.x + threadIdx.x",
                                   "static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x",
                                   "threadIdx.x + blockDim.x * blockIdx.x"])
def test_index_spellings(index):
    kernel = _kernel(f"__global__ void k(const float* x, float* y, int64_t n) {{ const int64_t j = {index};"
                     " if (j < n) { y[j] = x[j]; } }")
    assert read_elementwise(kernel, CONTEXTS).inputs == ["x"]


def test_relu_and_leaky_relu_selects_are_recognised():
    relu = read_elementwise(_kernel(_body("const float* x, float* y, int n", "if (i < n) { float v = x[i]; y[i] = v > 0 ? v : 0.f; }")), CONTEXTS)
    leaky = read_elementwise(_kernel(_body("const float* x, float* y, float s, int n", "if (i < n) { float v = x[i]; y[i] = v > 0.f ? v : s * v; }")), CONTEXTS)
    assert relu.outputs["y"].name == "relu" and leaky.outputs["y"].name == "leaky_relu"


@pytest.mark.parametrize("params, body, reason", [
    ("const float* x, double* y, int n", "if (i < n) y[i] = x[i];", "mixed element types"),
    ("const float* x, float* y, int n", "if (i < n) y[i] = (double)x[i];", "a cast to `double`"),
    ("const float* x, float* y, int n", "if (i < n) y[i] = x[i + 1] - x[i];", "not indexed by the thread index"),
    ("const float* x, float* y, int n", "if (i < n) y[i] = x[i] > 1.f ? x[i] : 2.f;", "data-dependent select"),
    ("const float* x, float* y, int n", "if (x[i] > 0.f) y[i] = x[i];", "data-dependent branch"),
    ("const float* x, float* y, int n", "if (i < n) y[i] = erff(x[i]);", "a call to `erff`"),
    ("const float* x, float* y, int n", "if (i < n) y[i] = tanhf(x[i]);", "`tanh` has no basic Ascend C vector instruction"),
    ("float* x, int n", "if (i < n) x[i] = x[i] * 2.f;", "in place"),
    ("const float* x, float* y, int n", "y[i] = x[i];", "before any bounds check"),
    ("const float* x, float* y, float* z, int n", "if (i < n) { y[i] = x[i]; z[i] = -x[i]; }", "2 outputs"),
])
def test_what_stops_synthesis_is_named(params, body, reason):
    plan = plan_kernel(_kernel(_body(params, body)), CONTEXTS)
    assert not plan.synthesised and reason in plan.reason


# classification ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, kind, difficulty", [
    ("__shared__ float s[64]; s[threadIdx.x] = x[threadIdx.x]; __syncthreads();"
     " for (int k = blockDim.x / 2; k > 0; k /= 2) { s[threadIdx.x] += s[threadIdx.x + k]; __syncthreads(); }"
     " y[0] = s[0];", "reduction", "medium"),
    ("__shared__ float s[64]; s[threadIdx.x] = x[threadIdx.x]; __syncthreads(); y[threadIdx.x] = s[63 - threadIdx.x];",
     "stencil", "medium"),
    ("float v = __shfl_down_sync(0xffffffff, x[threadIdx.x], 1); atomicAdd(y, v);", "reduction", "high"),
    ("int i = threadIdx.x; y[i] = x[i - 1] + x[i + 1];", "stencil", "medium"),
    ("wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;", "other", "high"),
    ('asm volatile("membar.gl;");', "other", "high"),
    ("int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = x[i] + x[i % 4];", "other", "medium"),
])
def test_classification(body, kind, difficulty):
    """`x[i % 4]` reads a fixed window: not a broadcast of a parameter-sized operand, so not elementwise."""
    plan = plan_kernel(_kernel(f"__global__ void k(const float* x, float* y, int n) {{ {body} }}"), CONTEXTS)
    assert (plan.classification.kind, plan.classification.difficulty) == (kind, difficulty)
    assert plan.classification.advice


def test_a_templated_kernel_is_instantiated_for_both_float_widths():
    plan = plan_kernel(_kernel("template <typename T> " + _body("const T* x, T* y, int n", "if (i < n) y[i] = x[i];")), CONTEXTS)
    assert plan.synthesised and plan.dtypes == ("float", "half", "bfloat16_t")


# lowering ---------------------------------------------------------------------------------------------------------

def _program(params: str, store: str):
    return vector_program(read_elementwise(_kernel(_body(params, f"if (i < n) {store}")), CONTEXTS).outputs, INSTRUCTIONS)


def test_scalar_forms_pick_the_scalar_instructions():
    program = _program("const float* x, float* y, float a, int n", "y[i] = (a - x[i]) / a;")
    assert program.statements == [
        "AscendC::Duplicate(tmp0, static_cast<float>(this->a), count);",  # a / x would round 1/a first: no Muls
        "AscendC::Muls(tmp1, xCalc, static_cast<float>(-1.0f), count);",
        "AscendC::Adds(tmp1, tmp1, static_cast<float>(this->a), count);",
        "AscendC::Div(yCalc, tmp1, tmp0, count);",
    ]


def test_a_repeated_subexpression_is_computed_once():
    program = _program("const float* x, const float* b, float* y, int n", "{ float v = x[i] + b[i]; y[i] = v * v; }")
    assert program.statements == ["AscendC::Add(tmp0, xCalc, bCalc, count);", "AscendC::Mul(yCalc, tmp0, tmp0, count);"]


def test_a_plain_copy_is_a_bit_exact_multiply_by_one():
    assert _program("const float* x, float* y, int n", "y[i] = x[i];").statements == [
        "AscendC::Muls(yCalc, xCalc, static_cast<float>(1.0f), count);"]


# whole files ------------------------------------------------------------------------------------------------------

def test_nothing_without_the_kernel_rules():
    source = _body("const float* x, float* y, int n", "if (i < n) y[i] = x[i];").encode()
    assert port_kernels("a.cu", source, RuleSet((), "2.13.0")).findings == []


def test_a_file_without_kernels_generates_nothing():
    port = port_kernels("host.cu", b"void f(float* p) { p[0] = 1; }\n", RULES)
    assert port.findings == [] and port.generated == {}


def test_broken_code_is_reported_not_fatal():
    port = port_kernels("bad.cu", b"__global__ void k(float* x, int n) { if (i < n) x[i] = ; }}}\n<<<", RULES)
    assert {f.rule_id for f in port.findings} <= {"KRN302", "KRN303", "KRN304"}


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_composites_compute_what_the_kernels_do():
    expected = ROOT / "fixtures" / "native"
    fma = _load(expected / "ext_elementwise.expected/ext_elementwise/csrc/fma_ascendc/composite.py", "porter_test_fma")
    act = _load(expected / "ext_bias_act.expected/bias_act/csrc/bias_act_ascendc/composite.py", "porter_test_act")
    gen = torch.Generator().manual_seed(0)
    x, y, z = (torch.randn(4, 37, generator=gen, dtype=torch.float64) for _ in range(3))
    bias = torch.randn(37, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fma.fused_fma(x, y, z), x * y + z)
    torch.testing.assert_close(fma.scaled_mul(x, y, 0.5), x * y * 0.5)
    torch.testing.assert_close(act.bias_leaky_relu(x, bias, 0.2), F.leaky_relu(x + bias, 0.2))
    torch.testing.assert_close(act.bias_silu_approx(x, y), F.silu(x + y))
    with pytest.raises(RuntimeError):  # the composite checks nothing itself, but shapes must broadcast
        act.bias_silu_approx(x, bias[:5])


def test_the_composite_registers_as_the_fallback(tmp_path):
    source = _body("const float* x, const float* b, float* y, float a, int n", "if (i < n) y[i] = a * x[i] + b[i];")
    port = port_kernels("axpy_test_kernel.cu", source.encode(), RULES)
    path = tmp_path / "composite.py"
    path.write_bytes(port.generated["axpy_test_kernel_ascendc/composite.py"])
    module = _load(path, "porter_test_axpy")
    assert module.load(str(tmp_path / "missing.so")) == "composite"  # no Ascend C build: the composites
    module.register("CPU")
    x, b = torch.randn(3, 5), torch.randn(3, 5)
    torch.testing.assert_close(torch.ops.porter_axpy_test_kernel.k(x, b, 2.0), 2.0 * x + b)


# op: custom parity: a fused multiply-add against the unfused composite ----------------------------------------------

def fma_kernel(x, y, z):
    """A CUDA `x * y + z` contracted to an FMA (fp32 exact product-sum, rounded once; emulated in float64)."""
    return (x.double() * y.double() + z.double()).to(x.dtype)


def wrong_kernel(x, y, z):
    return x * y - z


def composite(x, y, z):
    module = sys.modules.get("porter_test_fma") or _load(
        ROOT / "fixtures/native/ext_elementwise.expected/ext_elementwise/csrc/fma_ascendc/composite.py", "porter_test_fma")
    return module.fused_fma(x, y, z)


def _verdict(ported: str, dtype: str):
    case = Case.from_dict({"name": f"fma_{dtype}", "op": "custom", "dtype": dtype, "tolerance": "elementwise",
                           "inputs": {"x": [64, 129], "y": [64, 129], "z": [64, 129]}, "backward": False,
                           "original": f"{__name__}:fma_kernel", "ported": f"{__name__}:{ported}",
                           "benchmark": f"{__name__}:composite"})
    tensors = runner.make_inputs(case)
    reference = runner.run(case, dict(tensors), "cpu", "reference")
    target = runner.run(case, dict(tensors), "cpu", "target")
    bench = runner.run(case, dict(tensors), "cpu", "benchmark")
    return reference, target, judge.judge(case, reference, target, bench)


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_an_fma_kernel_passes_against_the_unfused_composite(dtype):
    reference, target, verdict = _verdict("composite", dtype)
    if dtype == "fp32":  # one rounding apart on some elements; fp16 is computed in float and rounded once, like CUDA
        assert not torch.equal(reference["output.out"], target["output.out"])
    assert verdict.status == "pass", verdict.message


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_a_wrong_kernel_fails(dtype):
    assert _verdict("wrong_kernel", dtype)[2].status == "fail"


def test_the_generated_parity_cases_join_the_suite_and_run(tmp_path, monkeypatch):
    from porter.kernels import parity_modules
    from porter.parity.suite import generate_suite, load_suite

    source = _body("const float* x, const float* y, float* out, int n", "if (i < n) out[i] = x[i] * y[i] + x[i];")
    port = port_kernels("kern/fmx.cu", source.encode(), RULES)
    for path, data in port.generated.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    modules = parity_modules(port.generated)
    assert modules == ("kern.fmx_ascendc.parity_cases",)
    generate_suite({}, tmp_path / "parity", modules=modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    composite_module = importlib.import_module("kern.fmx_ascendc.composite")
    composite_module.register("CPU")  # stands in for the extension's own CPU/CUDA kernel
    suite = load_suite(tmp_path / "parity")
    case = next(c for c in suite.cases if c.name == "porter_fmx_k")
    assert (case.op, case.benchmark) == ("custom", "kern.fmx_ascendc.composite:k")
    with suite.importable():
        tensors = runner.make_inputs(case)
        runs = [runner.run(case, dict(tensors), "cpu", role) for role in ("reference", "target", "benchmark")]
    assert judge.judge(case, *runs).status == "pass"


@pytest.mark.parametrize("rule_id, stem", [("KRN301", "axpy"), ("KRN302", "bias_relu")])
def test_documented_example_is_what_porter_generates(rule_id, stem):
    """Each `after` line of the rule page is `<generated file>: <a line of it>`, so the page cannot drift."""
    rule = RULES.by_id(rule_id)
    generated = port_kernels(f"{stem}.cu", rule.example_before.encode(), RULES).generated
    for line in rule.example_after.strip().splitlines():
        path, _, expected = line.partition(": ")
        assert expected in [g.strip() for g in generated[path].decode().splitlines()], line


@pytest.mark.parametrize("rule_id", ["KRN303", "KRN304"])
def test_documented_inventory_example_is_reported(rule_id):
    rule = RULES.by_id(rule_id)
    source = rule.example_before if "__global__" in rule.example_before else \
        "__global__ void scale(float* x, float a, int n) {}\nvoid f() {\n" + rule.example_before + "}\n"
    assert rule_id in {f.rule_id for f in port_kernels("example.cu", source.encode(), RULES).findings}


def test_a_header_and_a_source_of_one_name_get_separate_folders():
    source = _body("const float* x, float* y, int n", "if (i < n) y[i] = x[i] * 2.f;").encode()
    from_cu, from_cuh = (set(port_kernels(f"csrc/fma.{ext}", source, RULES).generated) for ext in ("cu", "cuh"))
    assert "csrc/fma_ascendc/fma.asc" in from_cu and "csrc/fma_cuh_ascendc/fma.asc" in from_cuh


def test_an_elementwise_kernel_with_an_untranslated_operation_is_still_elementwise():
    plan = plan_kernel(_kernel(_body("const float* x, float* y, int n", "if (i < n) y[i] = tanhf(x[i]) * 0.5f;")), CONTEXTS)
    assert (plan.classification.kind, plan.synthesised, plan.elementwise is not None) == ("elementwise", False, True)
