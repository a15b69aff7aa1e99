"""The tree-sitter inventory of native files: kernels, CUDA/NCCL APIs and headers, never comments or strings."""

from porter.native import inventory

SOURCE = b"""
#include <cuda_runtime.h>
#include <nccl.h>
#include <vector>
// cudaFree(ptr) would go here: a comment does not count
template <typename T>
__global__ void axpy(T a, const T* x, T* y, int n) { y[threadIdx.x] += a * x[threadIdx.x]; }

template <typename Ktraits>
__global__ __launch_bounds__(Ktraits::kNThreads)
void bounded_kernel(float* out) { out[0] = 1.0f; }

void run(float* d, ncclComm_t comm, cudaStream_t s) {
  const char* msg = "cudaMemset failed";
  cudaMalloc(&d, 16);
  cudaMalloc(&d, 32);
  ncclAllReduce(d, d, 4, ncclFloat, ncclSum, comm, s);
  axpy<<<1, 4, 0, s>>>(2.0f, d, d, 4);
}
"""


def test_inventory_lists_kernels_apis_and_headers(ruleset):
    findings = inventory(SOURCE, ruleset.by_id("NAT002"))
    originals = {f.original for f in findings}
    assert "__global__ void axpy" in originals
    assert "__global__ __launch_bounds__(Ktraits::kNThreads) void bounded_kernel" in originals
    assert {"#include <cuda_runtime.h>", "#include <nccl.h>"} <= originals and "#include <vector>" not in originals
    assert {"cudaMalloc", "ncclAllReduce", "ncclComm_t", "cudaStream_t"} <= originals
    assert "cudaFree" not in originals and "cudaMemset" not in originals
    malloc = next(f for f in findings if f.original == "cudaMalloc")
    assert "used 2 time(s)" in malloc.message and malloc.span.line == 15


def test_file_without_cuda_has_no_findings(ruleset):
    assert inventory(b"int add(int a, int b) { return a + b; }\n", ruleset.by_id("NAT002")) == []


# ---------------------------------------------------------------------------- the rewriting frontend

from porter.engine import port_bytes  # noqa: E402
from porter.native import port_native  # noqa: E402
from porter.native.edits import Edit, render  # noqa: E402
from porter.native.passes import Shape  # noqa: E402


def _port(source: str, ruleset, name: str = "x.cpp"):
    return port_native(name, source.encode(), ruleset)


def test_comments_and_strings_never_change(ruleset):
    source = '// cudaFree(p) here\nconst char* s = "cudaStream_t cudaSuccess";\n/* ncclComm_t */ void f(float* p) { cudaFree(p); }\n'
    result = _port(source, ruleset)
    assert result.new_bytes.decode() == source.replace("{ cudaFree(p); }", "{ aclrtFree(p); }")


def test_argument_templates_reorder_insert_and_nest(ruleset):
    result = _port("void f(float* d, float* h, size_t n) { cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice); }",
                   ruleset)
    assert b"aclrtMemcpy(d, n * 4, h, n * 4, ACL_MEMCPY_HOST_TO_DEVICE)" in result.new_bytes
    call = next(f for f in result.findings if f.rule_id == "CRT102")
    assert call.replacement == "aclrtMemcpy(d, n * 4, h, n * 4, ACL_MEMCPY_HOST_TO_DEVICE)"


def test_comm_init_rank_takes_hccl_order_and_pointers(ruleset):
    result = _port("void f(ncclComm_t c, ncclUniqueId id, int n, int r) { ncclCommInitRank(&c, n, id, r); }",
                   ruleset)
    assert b"HcclCommInitRootInfo(n, &id, r, &c)" in result.new_bytes
    assert b"HcclComm c, HcclRootInfo id" in result.new_bytes


def test_broadcast_in_place_only_when_buffers_are_the_same(ruleset):
    same = _port("void f() { ncclBroadcast(buf, buf, n, ncclFloat, 0, comm, s); }", ruleset)
    assert b"HcclBroadcast(buf, n, HCCL_DATA_TYPE_FP32, 0, comm, s)" in same.new_bytes
    distinct = _port("void f() { ncclBroadcast(a, b, n, ncclFloat, 0, comm, s); }", ruleset)
    assert b"ncclBroadcast(a, b, n, HCCL_DATA_TYPE_FP32, 0, comm, s)" in distinct.new_bytes
    review = next(f for f in distinct.findings if f.rule_id == "NCL102")
    assert review.status.value == "review" and "in place" in review.message and review.replacement is None


def test_nccl_avg_is_reported_not_rewritten(ruleset):
    result = _port("void f() { ncclAllReduce(a, b, n, ncclFloat, ncclAvg, comm, s); }", ruleset)
    assert b"HCCL_DATA_TYPE_FP32, ncclAvg, comm" in result.new_bytes
    avg = next(f for f in result.findings if f.original == "ncclAvg")
    assert avg.status.value == "unsupported"


def test_call_in_an_unknown_shape_is_reported_and_left(ruleset):
    source = "void f() { cudaMemcpy(d, h, n); }"
    result = _port(source, ruleset)
    assert result.new_bytes is None
    finding = next(f for f in result.findings if f.rule_id == "CRT102")
    assert finding.status.value == "review" and finding.original == "cudaMemcpy(d, h, n)"


def test_qualified_names_match_whole(ruleset):
    source = "void f() { auto s = at::cuda::getCurrentCUDAStream(); mine::cudaFree(p); ::cudaFree(q); }"
    result = _port(source, ruleset)
    assert result.new_bytes.decode() == (
        "void f() { auto s = c10_npu::getCurrentNPUStream(); mine::cudaFree(p); aclrtFree(q); }")


def test_macro_bodies_are_ported_and_stringified_arguments_kept(ruleset):
    source = ('#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { \\\n'
              '  printf("%s: %s", #x, cudaGetErrorString(e)); } } while (0)\n'
              'void f(float* p) { CHECK(cudaFree(p)); }\n')
    new = _port(source, ruleset).new_bytes.decode()
    assert "aclError e = (x); if (e != ACL_SUCCESS)" in new and "#x, aclGetRecentErrMsg()" in new
    assert "CHECK(aclrtFree(p))" in new


def test_macro_body_that_does_not_parse_is_kept_and_reported(ruleset):
    source = "#define BAD(x) cudaFree(x) ) (\nvoid f(float* p) { cudaFree(p); }\n"
    result = _port(source, ruleset)
    assert result.new_bytes.decode() == source.replace("{ cudaFree(p); }", "{ aclrtFree(p); }")
    assert any(f.rule_id == "NAT003" and f.status.value == "review" for f in result.findings)


def test_file_that_does_not_parse_is_copied_and_reported(ruleset):
    result = _port("void broken( { cudaFree(p); }\n", ruleset)
    assert result.new_bytes is None and result.outcome.value == "error"
    assert result.findings[0].rule_id == "NAT003" and result.findings[0].span.line == 1


def test_porting_twice_changes_nothing(ruleset):
    first = _port(SOURCE.decode(), ruleset, "k.cu")
    assert first.new_bytes is not None
    assert _port(first.new_bytes.decode(), ruleset, "k.cu").new_bytes is None


def test_residual_inventory_lists_what_is_left_once(ruleset):
    result = _port("void f(cublasHandle_t h) { cublasCreate(&h); cudaGetLastError(); }", ruleset)
    names = [f.original for f in result.findings]
    assert names.count("cublasCreate") == 1 and "cudaGetLastError()" in names
    assert not [f for f in result.findings if f.rule_id == "NAT002" and f.original == "cublasCreate"]


def test_file_without_anything_to_port_is_unchanged(ruleset):
    result = port_bytes("plain.cpp", "native", b"int add(int a, int b) { return a + b; }\n", ruleset)
    assert result.new_bytes is None and result.outcome.value == "unchanged" and not result.findings


def test_cuda_grammar_parses_kernels_and_launches(ruleset):
    result = _port(SOURCE.decode(), ruleset, "k.cu")
    assert not [f for f in result.findings if f.rule_id == "NAT003"]


def test_edits_apply_from_the_end_and_nest():
    data = b"f(a, g(b));"
    inner = Edit(5, 9, "h({x})", {"x": (7, 8)})
    outer = Edit(0, 10, "F({1}, {0})", {"0": (2, 3), "1": (5, 9)})
    assert render(data, [outer, inner, Edit(7, 8, "B")]) == b"F(h(B), a);"


def test_call_shapes_bind_literals_and_repeated_placeholders():
    shape = Shape.parse("ncclBroadcast({buf}, {buf}, {n}, LIT)")
    assert shape.bind(["x", "x", "4", "LIT"], [(0, 1)] * 4) is not None
    assert shape.bind(["x", "y", "4", "LIT"], [(0, 1)] * 4) is None
    assert shape.bind(["x", "x", "4", "OTHER"], [(0, 1)] * 4) is None
    assert Shape.parse("cudaDeviceSynchronize()").args == ()


def test_cmake_constructs_are_reported_one_by_one(ruleset):
    source = (b"project(p LANGUAGES CXX CUDA)  # CUDA::cudart in a comment\n"
              b"add_library(p src/cuda/a.cpp b.cu)\n"
              b"target_link_libraries(p CUDA::cudart)\n")
    result = port_bytes("CMakeLists.txt", "build", source, ruleset)
    found = [(f.original, f.span.line, f.span.column) for f in result.findings]
    assert found == [("CUDA", 1, 25), ("b.cu", 2, 30), ("CUDA::cudart", 3, 25)]
    assert result.new_bytes is None and {f.rule_id for f in result.findings} == {"BLD102"}


def test_cmake_example_is_what_porter_does(ruleset):
    rule = ruleset.by_id("BLD102")
    result = port_bytes("CMakeLists.txt", "build", rule.example_before.encode(), ruleset)
    assert result.new_bytes is None and rule.example_after == rule.example_before
    assert [f.original for f in result.findings] == ["CUDA", "CUDA::cudart"]


def test_parse_errors_away_from_anything_ported_do_not_stop_the_file(ruleset):
    source = ("void f(float* p) {\n  cudaFree(p);\n}\n"
              "__device__ void g() { typename T::Load(s).Load(x, *reinterpret_cast<int (*)[4]>(&y)); }\n")
    result = _port(source, ruleset, "k.cu")
    assert result.new_bytes.decode() == source.replace("cudaFree(p)", "aclrtFree(p)")
    tolerated = [f for f in result.findings if f.rule_id == "NAT003"]
    assert [(f.status.value, f.span.line) for f in tolerated] == [("review", 4)]


def test_parse_error_on_a_line_a_rule_would_rewrite_stops_the_file(ruleset):
    source = "void f(float* p) {\n  cudaFree(p) cudaFree(p) )\n}\n"
    result = _port(source, ruleset)
    assert result.new_bytes is None and result.outcome.value == "error"


def test_prefilter_needs_a_rule_word(ruleset):
    from porter.native import _trigger

    assert _trigger(ruleset).search(b"int add(int a, int b) { return a + b; }") is None
    assert _trigger(ruleset).search(b"thrust::sort(a, b);") and _trigger(ruleset).search(b"__global__ void k();")


def test_a_header_an_include_rule_reported_is_not_listed_twice(ruleset):
    result = _port("#include <cuda_bf16.h>\n#include <cusparse.h>\n", ruleset)
    assert [(f.rule_id, f.original) for f in result.findings] == [
        ("CRT103", "cuda_bf16.h"), ("NAT002", "#include <cusparse.h>")]
