"""The generated tiling covers every element exactly once: the Python model, and the generated C++ header itself
compiled with the host compiler, for lengths around every boundary and for 2- and 4-byte dtypes."""

import shutil
import subprocess
from pathlib import Path

import pytest

from porter.kernels import tiling
from porter.kernels.generate import generate
from porter.kernels.inventory import kernels
from porter.kernels.plan import plan_kernel
from porter.kernels.syntax import outline, parse
from porter.ruleset import load_rule_file

ROOT = Path(__file__).resolve().parent.parent
CONTEXTS = next(r for r in load_rule_file(ROOT / "rules" / "kernels.yaml") if r.id == "KRN301").contexts
TILE_BYTES = 2048
CORES = 8


def _lengths(dtype_size: int) -> list[int]:
    align, tile = 32 // dtype_size, TILE_BYTES // dtype_size
    around = [0, 1, align - 1, align, align + 1, 31, 32, 33, tile - 1, tile, tile + 1,
              CORES * tile - 1, CORES * tile, CORES * tile + 1, CORES * align - 1, CORES * align + 1,
              2 * CORES * tile + align + 3, 7919, 104729]
    return sorted(set(around))


@pytest.mark.parametrize("dtype_size", [2, 4])
def test_every_element_is_covered_exactly_once(dtype_size):
    for total in _lengths(dtype_size):
        assert tiling.coverage(total, dtype_size, CORES, TILE_BYTES) == [1] * total, total


@pytest.mark.parametrize("dtype_size", [2, 4])
def test_only_the_last_core_ends_in_a_partial_block_and_only_tails_are_padded(dtype_size):
    align = 32 // dtype_size
    for total in _lengths(dtype_size):
        cores = tiling.block_dim(total, dtype_size, CORES)
        ranges = [tiling.core_range(total, dtype_size, cores, i) for i in range(cores)]
        assert all(start % align == 0 for start, _ in ranges)
        assert all(length % align == 0 for _, length in ranges[:-1])
        assert all(length > 0 for _, length in ranges)  # no idle core is launched
        for _, length in ranges:
            pieces = tiling.tiles(length, TILE_BYTES // dtype_size, dtype_size)
            assert all(not padded for _, _, padded in pieces[:-1])


def test_a_model_with_a_gap_or_overlap_is_caught():
    """The coverage check is not a tautology: a share that drops the remainder is detected."""
    broken = lambda total, size, cores, index: (index * (total // cores), total // cores)  # noqa: E731
    original = tiling.core_range
    try:
        tiling.core_range = broken
        assert tiling.coverage(1001, 4, CORES, TILE_BYTES) != [1] * 1001
    finally:
        tiling.core_range = original


def test_the_tile_fits_the_unified_buffer_budget():
    assert tiling.tile_bytes(7, 98304) == 13824 and 7 * 13824 <= 98304
    assert tiling.tile_bytes(7, 98304) % 256 == 0
    with pytest.raises(ValueError):
        tiling.tile_bytes(1000, 98304)


DRIVER = r"""
#include <cstdio>
#include "k_tiling.h"
int main() {
    unsigned sizes[] = {2, 4};
    unsigned totals[] = {TOTALS};
    for (unsigned s : sizes) for (unsigned total : totals) {
        unsigned cores = total == 0 ? 0 : PorterBlockDim(total, s, PORTER_MAX_CORES);
        for (unsigned c = 0; c < cores; c++) {
            PorterRange r = PorterCoreRange(total, s, cores, c);
            unsigned tile = PORTER_TILE_BYTES / s;
            for (unsigned off = 0; off < r.length; off += tile)
                printf("%u %u %u %u\n", s, total, r.start + off, PorterTileCount(r.length, off, tile));
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="no host C++ compiler")
def test_the_generated_header_tiles_like_the_model(tmp_path):
    source = b"__global__ void k(const float* x, float* y, int n) {" \
             b" int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = x[i] * 2.0f; }"
    plans = [plan_kernel(k, CONTEXTS) for k in kernels(outline(parse(source))[0], {})]
    header = generate("k.cu", plans, [], True, CONTEXTS)["k_ascendc/k_tiling.h"]
    (tmp_path / "k_tiling.h").write_bytes(header)
    tile_bytes = int(header.decode().split("PORTER_TILE_BYTES = ")[1].split(";")[0])
    totals = sorted(set(_lengths(2) + _lengths(4) + [tile_bytes // 4 * CORES + 1, tile_bytes // 2 - 1]))
    (tmp_path / "driver.cpp").write_text(DRIVER.replace("TOTALS", ", ".join(map(str, totals))))
    subprocess.run(["g++", "-std=c++17", "-O1", "-o", str(tmp_path / "driver"), str(tmp_path / "driver.cpp")],
                   check=True, cwd=tmp_path)
    lines = subprocess.run([str(tmp_path / "driver")], check=True, capture_output=True, text=True).stdout.split("\n")
    produced = sorted(tuple(map(int, line.split())) for line in lines if line)
    expected = []
    for size in (2, 4):
        for total in totals:
            cores = tiling.block_dim(total, size, CORES)
            for index in range(cores):
                start, length = tiling.core_range(total, size, cores, index)
                expected += [(size, total, start + off, n) for off, n, _ in tiling.tiles(length, tile_bytes // size, size)]
    assert produced == sorted(expected)
    for size in (2, 4):
        for total in totals:
            hits = [0] * total
            for s, t, start, n in produced:
                if (s, t) == (size, total):
                    for element in range(start, start + n):
                        hits[element] += 1
            assert hits == [1] * total, (size, total)
