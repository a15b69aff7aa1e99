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
