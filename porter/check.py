"""`porter check DST`: compile the ported and generated host C++ of a tree with `g++ -fsyntax-only` against the real
headers of the installed torch and of the torch-npu wheel (ACL, HCCL, torch_npu), without installing torch_npu
(importing it without CANN breaks `import torch`) and without running anything."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sysconfig
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FETCH_COMMAND = "pip download --no-deps torch-npu==2.13.0 -d ./wheels"
ENV_VAR = "PORTER_TORCH_NPU"
HOST_SUFFIXES = (".cpp", ".cc", ".cxx")
HEADER_SUFFIXES = (".h", ".hpp", ".hh", ".hxx", ".cuh")
SKIPPED_DIRS = {"porter-report", "parity", ".git", "__pycache__"}
# C++20: what torch 2.13's cpp_extension builds with; -w: a syntax check of the ported code, not a lint of torch's headers.
FLAGS = ("-std=c++20", "-fsyntax-only", "-w", "-x", "c++", "-DTORCH_EXTENSION_NAME=porter_check")


class CheckError(Exception):
    """The toolchain or the torch-npu headers cannot be found; the message says what to do."""


@dataclass(frozen=True)
class FileCheck:
    path: str
    ok: bool
    output: str  # the compiler's diagnostics (first lines)


def _installed_torch_npu() -> Path | None:
    """Found by its spec only: importing torch_npu without CANN would break torch."""
    spec = importlib.util.find_spec("torch_npu")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent


@contextmanager
def torch_npu_root(given: str | None):
    """A directory holding `torch_npu/include`: from --torch-npu / $PORTER_TORCH_NPU (a .whl or an unpacked
    wheel), else the installed torch_npu."""
    given = given or os.environ.get(ENV_VAR)
    if given:
        path = Path(given)
        if path.is_file() and path.suffix == ".whl":
            with tempfile.TemporaryDirectory(prefix="porter-check-") as scratch:
                with zipfile.ZipFile(path) as wheel:
                    wheel.extractall(scratch, [m for m in wheel.namelist() if m.startswith("torch_npu/include/")])
                yield Path(scratch)
            return
        if (path / "torch_npu" / "include").is_dir():
            yield path
            return
        if path.name == "torch_npu" and (path / "include").is_dir():
            yield path.parent
            return
        raise CheckError(f"{path} is neither a torch-npu .whl nor a directory holding torch_npu/include")
    installed = _installed_torch_npu()
    if installed is None or not (installed / "torch_npu" / "include").is_dir():
        raise CheckError("no torch-npu headers found: fetch the wheel without installing it, then pass it with "
                         f"--torch-npu:\n  {FETCH_COMMAND}")
    yield installed


def include_dirs(npu_root: Path) -> list[Path]:
    include = npu_root / "torch_npu" / "include"
    dirs = [include, include / "third_party" / "hccl" / "inc"]
    torch = importlib.util.find_spec("torch")
    if torch is not None and torch.submodule_search_locations:
        torch_include = Path(list(torch.submodule_search_locations)[0]) / "include"
        dirs += [torch_include, torch_include / "torch" / "csrc" / "api" / "include"]
    dirs.append(Path(sysconfig.get_paths()["include"]))  # Python.h, for pybind11 in torch/extension.h
    return dirs


def scan_tree(root: Path) -> tuple[list[Path], list[Path]]:
    """(host C++ sources, the project's own directories holding headers: `#include "x.h"` search paths)."""
    sources, header_dirs = [], []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        sources += [Path(directory) / f for f in sorted(files) if f.endswith(HOST_SUFFIXES)]
        if any(f.endswith(HEADER_SUFFIXES) for f in files):
            header_dirs.append(Path(directory))
    return sources, header_dirs


def _compile(compiler: str, includes: list[Path], project: list[Path], source: Path, root: Path) -> FileCheck:
    command = [compiler, *FLAGS, *(f"-iquote{d}" for d in project), *(f"-I{d}" for d in includes), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return FileCheck(source.relative_to(root).as_posix(), done.returncode == 0, "\n".join(lines[:20]))


def check_tree(root: Path, torch_npu: str | None = None, jobs: int | None = None,
               compiler: str | None = None) -> list[FileCheck]:
    """Syntax-check every host C++ source under `root`; raises CheckError when the toolchain is missing."""
    compiler = compiler or os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        raise CheckError(f"no C++ compiler `{compiler}` on PATH (set CXX)")
    sources, project = scan_tree(root)
    with torch_npu_root(torch_npu) as npu_root:
        includes = include_dirs(npu_root)
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            return list(pool.map(lambda s: _compile(compiler, includes, project, s, root), sources))
