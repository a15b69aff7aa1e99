"""The API surface extractor on a tiny synthetic wheel, and the committed snapshots."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from porter.surface import available_versions, load_surface

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "extract_api_surface.py"


@pytest.fixture(scope="module")
def extractor():
    spec = importlib.util.spec_from_file_location("extract_api_surface", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


FAKE_WHEEL = {
    "torch_npu-9.9.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: torch_npu\nVersion: 9.9.0\n",
    "torch_npu-9.9.0.dist-info/WHEEL": "Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n",
    "torch_npu/__init__.py": """
        __all__ = ["lazy_thing"]
        import os
        import torch_npu.npu
        from torch_npu._private import helper
        from torch_npu.version import __version__
    """,
    "torch_npu/version.py": "__version__ = '9.9.0'\n",
    "torch_npu/_private.py": "def helper():\n    pass\n",
    "torch_npu/npu/__init__.py": """
        __all__ = ["synchronize", "Stream", "matmul", "FloatTensor"]
        import os
        from typing import TYPE_CHECKING, List
        from .utils import synchronize, _hidden
        from .streams import Stream
        from .memory import *
        from . import npu_config

        if TYPE_CHECKING:
            from .typing_only import TypingOnly

        matmul = npu_config._Hf32Matmul()
        CubeMathType = npu_config._CubeMathType


        def __getattr__(name):
            if name == "lazy_sub":
                return 1
            raise AttributeError(name)


        def is_available():
            return False


        def _private_fn():
            pass
    """,
    "torch_npu/npu/utils.py": """
        def synchronize():
            pass


        def _hidden():
            pass


        def not_reexported():
            pass
    """,
    "torch_npu/npu/streams.py": """
        class _Base:
            def query(self):
                pass

            def _secret(self):
                pass


        class Stream(_Base):
            def synchronize(self):
                pass

            def __repr__(self):
                return "Stream"
    """,
    "torch_npu/npu/memory.py": """
        __all__ = ["empty_cache"] + ["reset_stats"]
        __all__.append("appended_name")


        def empty_cache():
            pass


        def reset_stats():
            pass


        def appended_name():
            pass


        def memory_internal():
            pass
    """,
    "torch_npu/npu/npu_config.py": """
        import os

        TIMEOUT = os.environ.get("MY_ENV_FROM_PY")


        class _Hf32Matmul:
            def __getattr__(cls, name):
                if name == "allow_hf32":
                    return True
                elif name in ("cube_math_type",):
                    return 0
                return None

            def __setattr__(cls, name, value):
                if name == "allow_hf32":
                    pass


        class _CubeMathType:
            KEEP_DTYPE = 0
    """,
    "torch_npu/_init/backend.py": """
        import torch
        import torch_npu


        def register():
            torch.utils.rename_privateuse1_backend("npu")
            torch._register_device_module("npu", torch_npu.npu)
            torch.utils.generate_methods_for_privateuse1_backend(for_tensor=True, for_module=True, for_storage=True)
    """,
    "torch_npu/utils/__init__.py": "",
    "torch_npu/utils/cpp_extension.py": "def NpuExtension(name, sources):\n    pass\n",
    "torch_npu/utils/_module.py": """
        import torch


        def npu(self):
            return self


        def _apply_module_patch():
            torch.nn.Module.npu = npu
            setattr(torch.nn.Module, "cast_weight", npu)
            torch.nn.Module._private_patch = npu
    """,
    "torch_npu/utils/env.py": """
        import os

        _KEY = "PY_CONST_ENV"
        VALUE = os.getenv(_KEY)
        CHECKED = "CHECK_IN_ENV" in os.environ
        os.environ["SET_ENV"] = "1"
        print("NOT_AN_ENV_STRING")
    """,
    "torch_npu/contrib/__init__.py": "",
    "torch_npu/contrib/transfer_to_npu.py": """
        import torch

        torch.Tensor.cuda = torch.Tensor.npu
        torch.nn.Module.cuda = torch.nn.Module.npu
    """,
    "torch_npu/_op_plugin_docs.py": '''
        def _add_torch_npu_docstr(method, docstr):
            pass


        _add_torch_npu_docstr(
            "npu_documented_only",
            """
        torch_npu.npu_documented_only(self) -> Tensor
        """,
        )
    ''',
    "torch_npu/csrc/aten/npu_native_functions.yaml": """
        backend: NPU
        supported:
          - add.Tensor
        custom:
          - func: npu_fake_attention(Tensor q) -> Tensor
            exposed: True
          - func: _npu_private_op(Tensor x) -> Tensor
          - device_check: NoCheck
            func: npu_fake_attention.out(Tensor q, *, Tensor(a!) out) -> Tensor(a!)
        symint:
          - func: npu_symint_only(SymInt[] size) -> Tensor
    """,
    "torch_npu/include/acl/acl_rt.h": """
        #ifndef INC_ACL_RT_H_
        #define INC_ACL_RT_H_
        #include <stdint.h>
        #ifdef __cplusplus
        extern "C" {
        #endif
        #define ACL_MAX_DEV 64
        #if defined(_MSC_VER)
        #define ACL_FUNC_VISIBILITY _declspec(dllexport)
        #else
        #define ACL_FUNC_VISIBILITY __attribute__((visibility("default")))
        #endif
        typedef void *aclrtStream;
        typedef int aclError;
        typedef void (*aclrtCallback)(void *userData);
        typedef enum aclrtMemcpyKind {
            ACL_MEMCPY_HOST_TO_DEVICE = 1,
            ACL_MEMCPY_DEVICE_TO_HOST,
        } aclrtMemcpyKind;
        typedef struct aclrtInfoDef {
            int field;
        } aclrtInfo;
        static const int ACL_SUCCESS = 0;
        /* ACL_FUNC_VISIBILITY aclError aclCommentedOut(void); */
        // ACL_FUNC_VISIBILITY aclError aclLineComment(void);
        ACL_DEPRECATED_MESSAGE("use aclrtMallocV2; (sic)") ACL_FUNC_VISIBILITY aclError aclrtMalloc(void **devPtr,
            size_t size);
        ACL_FUNC_VISIBILITY aclError aclrtLaunchCallback(aclrtCallback fn, void *userData);
        #ifdef __cplusplus
        }
        #endif
        #endif
    """,
    "torch_npu/include/third_party/hccl/inc/hccl/hccl.h": """
        typedef enum { HCCL_SUCCESS = 0, HCCL_E_PARA = 1 } HcclResult;
        const uint32_t HCCL_ROOT_INFO_BYTES = 4108; // root info length
        extern HcclResult HcclAllReduce(void *sendBuf, void *recvBuf, uint64_t count);
    """,
    "torch_npu/include/ge/ge_api.h": "int geOnlyFunction();\n",
    "torch_npu/include/torch_npu/csrc/core/npu/NPUStream.h": """
        #pragma once
        namespace c10_npu {
        class C10_NPU_API NPUStream {
         public:
          enum Unchecked { UNCHECKED };
          explicit NPUStream(c10::Stream stream);
          void synchronize() const;
          bool operator==(const NPUStream& other) const noexcept { return true; }
          operator aclrtStream() const { return stream(); }
         private:
          void hidden_method();
        };
        C10_NPU_API NPUStream getCurrentNPUStream(c10::DeviceIndex device_index = -1);
        at::Tensor with_default(const c10::optional<at::Tensor>& bias={});
        static std::vector<std::string> TORCH_HCCL_BLOCKING_WAIT = {"TORCH_HCCL_BLOCKING_WAIT", "HCCL_BLOCKING_WAIT"};
        namespace {
        void anonymous_helper();
        }
        } // namespace c10_npu
        namespace std {
        template <>
        struct hash<c10_npu::NPUStream> {
          size_t operator()(c10_npu::NPUStream s) const noexcept { return 0; }
        };
        }
    """,
}
FAKE_LIBRARY = (b"\x7fELF\x00garbage\x00HCCL_CONNECT_TIMEOUT\x00PYTORCH_NPU_ALLOC_CONF\x00"
                b"ACL_MEMCPY_HOST_TO_DEVICE\x00FRACTAL_NZ\x00lower_case_name\x00MULTI_STREAM_MEMORY_REUSE\x00"
                b"xHCCL_GLUED_TO_TEXT\x00ACL_STREAM_TIMEOUT\x00")


@pytest.fixture
def fake_wheel_dir(tmp_path: Path) -> Path:
    root = tmp_path / "unzipped"
    for relative, text in FAKE_WHEEL.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    (root / "torch_npu" / "lib").mkdir()
    (root / "torch_npu" / "lib" / "libtorch_npu.so").write_bytes(FAKE_LIBRARY)
    return root


@pytest.fixture
def snapshot(extractor, fake_wheel_dir: Path) -> dict:
    return extractor.extract_from(fake_wheel_dir, "torch_npu")


def test_header_and_sorted_lists(snapshot):
    assert snapshot["package"] == "torch_npu"
    assert snapshot["version"] == "9.9.0"
    assert snapshot["extracted_from"] == "torch_npu-9.9.0-cp311-cp311-linux_x86_64.whl"
    assert snapshot["extractor"] == "scripts/extract_api_surface.py"
    for namespace in ("python", "tensor_methods", "module_methods", "ops", "env_vars",
                      "c_functions", "c_constants", "c_types", "c_headers"):
        assert snapshot[namespace] == sorted(set(snapshot[namespace]))


@pytest.mark.parametrize("name", [
    "torch_npu.npu",
    "torch_npu.npu.synchronize",
    "torch_npu.npu.is_available",
    "torch_npu.npu.Stream",
    "torch_npu.npu.Stream.synchronize",
    "torch_npu.npu.Stream.query",  # inherited from a base class in the package
    "torch_npu.npu.empty_cache",  # star import limited by memory.__all__
    "torch_npu.npu.reset_stats",  # __all__ built with +
    "torch_npu.npu.appended_name",  # __all__.append
    "torch_npu.npu.memory.memory_internal",
    "torch_npu.npu.FloatTensor",  # declared in __all__ only (C extension provides it)
    "torch_npu.npu.lazy_sub",  # module-level __getattr__
    "torch_npu.npu.matmul",
    "torch_npu.npu.matmul.allow_hf32",  # served by _Hf32Matmul.__getattr__
    "torch_npu.npu.matmul.cube_math_type",
    "torch_npu.npu.CubeMathType.KEEP_DTYPE",
    "torch_npu.npu.npu_config",
    "torch.npu.synchronize",
    "torch.npu.matmul.allow_hf32",
    "torch.npu.Stream.synchronize",
    "torch_npu.utils.cpp_extension.NpuExtension",
    "torch_npu.lazy_thing",
    "torch_npu.npu_fake_attention",
    "torch.ops.npu.npu_fake_attention",
    "torch.Tensor.npu",
    "torch.Tensor.is_npu",
    "torch.nn.Module.npu",
    "torch.UntypedStorage.npu",
])
def test_python_names_found(snapshot, name):
    assert name in snapshot["python"]


@pytest.mark.parametrize("name", [
    "torch_npu.npu.os",  # stdlib import
    "torch_npu.npu.List",  # typing import
    "torch_npu.npu.TypingOnly",  # TYPE_CHECKING-only import
    "torch_npu.npu._hidden",
    "torch_npu.npu._private_fn",
    "torch_npu.npu.not_reexported",
    "torch_npu.npu.memory_internal",  # excluded by memory.__all__
    "torch_npu.npu.Stream._secret",
    "torch_npu.npu.Stream.__repr__",
    "torch_npu.npu.matmul.anything_else",
    "torch_npu.helper",  # absolute internal import, not in __all__
    "torch_npu._private.helper",
    "torch_npu._npu_private_op",
    "torch_npu.npu_documented_only",  # a docstring is not an op
    "torch.npu.npu_fake_attention",
    "torch.Tensor.cuda",  # only transfer_to_npu rebinds it
])
def test_python_names_not_found(snapshot, name):
    assert name not in snapshot["python"]


def test_ops_come_from_custom_section_only(snapshot):
    assert snapshot["ops"] == ["_npu_private_op", "npu_fake_attention"]


def test_tensor_and_module_methods(snapshot):
    assert snapshot["tensor_methods"] == ["is_npu", "npu"]
    assert snapshot["module_methods"] == ["cast_weight", "npu"]


def test_env_vars(snapshot):
    assert set(snapshot["env_vars"]) == {
        "MY_ENV_FROM_PY", "PY_CONST_ENV", "CHECK_IN_ENV", "SET_ENV",  # Python sources
        "TORCH_HCCL_BLOCKING_WAIT", "HCCL_BLOCKING_WAIT",  # header env constant
        "HCCL_CONNECT_TIMEOUT", "PYTORCH_NPU_ALLOC_CONF", "MULTI_STREAM_MEMORY_REUSE",
        "ACL_STREAM_TIMEOUT",  # shared library strings
    }


def test_c_functions(snapshot):
    assert set(snapshot["c_functions"]) == {
        "aclrtMalloc", "aclrtLaunchCallback", "HcclAllReduce",
        "c10_npu::NPUStream::synchronize", "c10_npu::getCurrentNPUStream", "c10_npu::with_default",
    }


def test_c_constants(snapshot):
    assert set(snapshot["c_constants"]) == {
        "ACL_MAX_DEV", "ACL_MEMCPY_HOST_TO_DEVICE", "ACL_MEMCPY_DEVICE_TO_HOST", "ACL_SUCCESS",
        "HCCL_SUCCESS", "HCCL_E_PARA", "HCCL_ROOT_INFO_BYTES", "c10_npu::NPUStream::UNCHECKED",
    }


def test_c_types(snapshot):
    assert set(snapshot["c_types"]) == {
        "aclrtStream", "aclError", "aclrtCallback", "aclrtMemcpyKind", "aclrtInfoDef", "aclrtInfo",
        "HcclResult", "c10_npu::NPUStream", "c10_npu::NPUStream::Unchecked",
    }


def test_wheel_file_gives_the_same_snapshot(extractor, fake_wheel_dir: Path, snapshot, tmp_path: Path):
    wheel = tmp_path / "torch_npu-9.9.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in sorted(fake_wheel_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(fake_wheel_dir).as_posix())
    assert extractor.extract_from(wheel, "torch_npu") == snapshot


def test_cli_output_is_stable(extractor, fake_wheel_dir: Path, tmp_path: Path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert extractor.main(["--wheel", str(fake_wheel_dir), "-o", str(first)]) == 0
    assert extractor.main(["--wheel", str(fake_wheel_dir), "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert list(json.loads(first.read_text()))[:4] == ["package", "version", "extracted_from", "extractor"]


# --------------------------------------------------------------------------- committed snapshots

TORCH_NPU_PYTHON = [
    "torch.npu.synchronize", "torch.npu.set_device", "torch.npu.is_available", "torch.npu.device_count",
    "torch.npu.current_device", "torch.npu.Stream", "torch.npu.Event", "torch.npu.NPUGraph",
    "torch.npu.graph", "torch.npu.make_graphed_callables", "torch.npu.manual_seed_all",
    "torch.npu.get_rng_state", "torch.npu.memory_allocated", "torch.npu.max_memory_allocated",
    "torch.npu.reset_peak_memory_stats", "torch.npu.empty_cache", "torch.npu.mem_get_info",
    "torch.npu.get_device_properties", "torch.npu.get_device_name", "torch.npu.is_bf16_supported",
    "torch.npu.amp.autocast", "torch.npu.amp.GradScaler", "torch.npu.matmul.allow_hf32",
    "torch.npu.conv.allow_hf32", "torch.npu.Stream.synchronize", "torch.npu.Event.elapsed_time",
    "torch_npu.npu_fusion_attention", "torch_npu.npu_rms_norm", "torch_npu.utils.cpp_extension.NpuExtension",
]
TORCH_PYTHON = [
    "torch.amp.autocast", "torch.amp.GradScaler", "torch.autocast", "torch.distributed.init_process_group",
    "torch.use_deterministic_algorithms",
]


@pytest.mark.parametrize("name", TORCH_NPU_PYTHON)
def test_committed_torch_npu_snapshot(name):
    assert load_surface("torch_npu", "2.13.0").has_python(name)


def test_committed_torch_npu_snapshot_other_namespaces():
    surface = load_surface("torch_npu", "2.13.0")
    assert surface.has("tensor_methods", "npu") and surface.has("tensor_methods", "is_npu")
    assert surface.has("module_methods", "npu")
    assert surface.has("ops", "npu_fusion_attention") and surface.has("ops", "npu_rms_norm")
    assert surface.has("env_vars", "PYTORCH_NPU_ALLOC_CONF") and surface.has("env_vars", "HCCL_CONNECT_TIMEOUT")
    assert surface.has("c_functions", "aclrtMalloc") and surface.has("c_functions", "HcclAllReduce")
    assert surface.has("c_functions", "c10_npu::getCurrentNPUStream")
    assert surface.has("c_constants", "ACL_MEMCPY_HOST_TO_DEVICE") and surface.has("c_constants", "HCCL_REDUCE_SUM")
    assert surface.has("c_types", "aclrtStream") and surface.has("c_types", "c10_npu::OptionalNPUGuard")
    assert not surface.has_python("torch.npu.Stream.no_such_method")
    assert not surface.has_python("torch.npu.matmul.allow_tf32")


@pytest.mark.parametrize("name", TORCH_PYTHON)
def test_committed_torch_snapshot(name):
    assert load_surface("torch", "2.13.0").has_python(name)


def test_loader_api():
    assert "2.13.0" in available_versions("torch_npu")
    assert load_surface("torch_npu", "2.13.0") is load_surface("torch_npu", "2.13.0")
    with pytest.raises(ValueError):
        load_surface("torch_npu", "2.13.0").has("no_such_namespace", "x")
    with pytest.raises(FileNotFoundError):
        load_surface("torch_npu", "0.0.0")


def test_c_headers_are_spelled_as_includes(snapshot):
    assert {"acl/acl_rt.h", "hccl/hccl.h", "torch_npu/csrc/core/npu/NPUStream.h"} <= set(snapshot["c_headers"])
