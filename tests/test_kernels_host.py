"""The host half of every generated .asc (wrappers, dtype dispatch, PrivateUse1 registration) compiles against the
installed torch's headers. Only the NPU parts are stood in for: the `<<<...>>>` launch (an ASC-compiler construct)
becomes a call, c10_npu::getCurrentNPUStream() a stub, and the kernel entries templates that accept anything."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATED = sorted((ROOT / "fixtures" / "native").glob("ext_*.expected/**/*.asc"))
STAND_INS = """#include <cstdint>
#include <ATen/ATen.h>
#include <torch/library.h>
namespace c10_npu {
struct NPUStream { void* stream(bool) const { return nullptr; } };
inline NPUStream getCurrentNPUStream() { return {}; }
}
inline uint32_t PorterBlockDim(uint32_t, uint32_t, uint32_t) { return 1; }
constexpr uint32_t PORTER_MAX_CORES = 8;
"""


def host_part(asc: str) -> str:
    """From the host namespace on, launches as plain calls; the kernel entries declared as catch-all templates."""
    host = asc[asc.index("\nnamespace "):]
    entries = sorted(set(re.findall(r"(\w+)<<<", host)))
    declarations = "".join(f"template <typename... A> void {name}(A...) {{}}\n" for name in entries)
    return declarations + re.sub(r"(\w+)<<<[^>]*>>>\(", r"\1(", host)


def _syntax_check(source: str, directory: Path) -> subprocess.CompletedProcess:
    from torch.utils.cpp_extension import include_paths

    path = directory / "host.cpp"
    path.write_text(source)
    return subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-w", *[f"-I{p}" for p in include_paths()], str(path)],
                          capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="no host C++ compiler")
def test_generated_host_code_compiles_against_torch(tmp_path):
    assert len(GENERATED) == 3
    source = STAND_INS + "".join(host_part(p.read_text(encoding="utf-8")) for p in GENERATED)
    assert source.count("TORCH_LIBRARY_IMPL(") == 3 and "mutable_data_ptr()" in source
    result = _syntax_check(source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
