"""Backend selection, precision pinning, and the environment record a golden manifest carries."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

DEVICES = ("cpu", "cuda", "npu")


class DeviceError(RuntimeError):
    """The requested backend is not usable here (exit code 2)."""


AUTOLOAD = "TORCH_DEVICE_BACKEND_AUTOLOAD"


def import_torch(device: str | None):
    """torch, imported for ``device``: any device but npu keeps torch from autoloading torch_npu.

    With torch_npu installed but not loadable (no CANN), torch's backend autoload makes ``import
    torch`` itself raise; a CPU or CUDA run has no use for the NPU backend, so it never loads it.
    """
    if device != "npu" and "torch" not in sys.modules:
        os.environ.setdefault(AUTOLOAD, "0")
    try:
        import torch
    except ImportError as exc:
        if exc.name == "torch":
            raise DeviceError("porter parity needs torch: pip install 'porter[parity]'") from None
        raise DeviceError(_backend_failure(exc)) from None
    except Exception as exc:  # torch wraps a failing backend extension in a RuntimeError
        raise DeviceError(_backend_failure(exc)) from None
    return torch


def _backend_failure(exc: Exception) -> str:
    cause = f" ({type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ else ""
    return (f"importing torch failed while loading a device backend: {exc}{cause}. With torch_npu installed, "
            "--device npu needs CANN (source its set_env.sh); --device cpu or cuda does not load torch_npu at all")


def prepare(device: str) -> dict:
    """Make ``device`` usable, pin the reduced-precision matmul/conv modes off, describe the machine."""
    import torch

    if device == "npu":
        try:
            import torch_npu  # noqa: F401  (registers the "npu" device)
        except Exception as exc:  # an import failure can be any error inside a broken install
            raise DeviceError(
                f"--device npu needs torch_npu, which cannot be imported here ({type(exc).__name__}: {exc}); "
                "install the torch_npu matching this torch and CANN, or use --device cpu"
            ) from None
        if not torch.npu.is_available():
            raise DeviceError("--device npu: torch_npu is installed but no NPU is visible (check the driver / ASCEND_RT_VISIBLE_DEVICES)")
    elif device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch has no usable CUDA device here; record with --device cpu instead")
    elif device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    return {"device": device, "precision": pin_precision(), **describe(device)}


def pin_precision() -> dict:
    """Reduced-precision modes off on both sides, so fp32 means fp32 wherever a case runs.

    Pinned: TF32 (CUDA) and HF32 (NPU), and the fp16/bf16 matmul reductions in reduced precision.
    Recorded but left as they are: the SDPA backends (the NPU's fused attention is flash-style
    whatever is pinned, so the standards must accept flash-style rounding anyway).
    """
    import torch

    matmul = torch.backends.cuda.matmul
    matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    pinned = {"cuda.matmul.allow_tf32": False, "cudnn.allow_tf32": False, "float32_matmul_precision": "highest"}
    for flag in ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
                 "allow_fp16_accumulation"):
        if hasattr(matmul, flag):
            setattr(matmul, flag, False)
            pinned[f"cuda.matmul.{flag}"] = False
    sdpa = torch.backends.cuda
    for backend in ("flash", "mem_efficient", "math", "cudnn"):
        enabled = getattr(sdpa, f"{backend}_sdp_enabled", None)
        if enabled is not None:
            pinned[f"cuda.sdp.{backend}"] = bool(enabled())
    npu = getattr(torch, "npu", None)
    if npu is not None and hasattr(npu, "matmul"):
        npu.matmul.allow_hf32 = False
        npu.conv.allow_hf32 = False
        pinned.update({"npu.matmul.allow_hf32": False, "npu.conv.allow_hf32": False})
    return pinned


def describe(device: str) -> dict:
    import numpy
    import torch

    info = {
        "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "device_name": platform.processor() or platform.machine(),
        "cuda": None, "cudnn": None, "torch_npu": None, "cann": None, "driver": None,
    }
    if device == "cuda":
        info.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    device_name=torch.cuda.get_device_name(0), driver=_tool_output(
                        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]))
    elif device == "npu":
        import torch_npu

        version = getattr(torch_npu, "version", None)
        info.update(torch_npu=getattr(torch_npu, "__version__", None), cann=getattr(version, "cann", None),
                    device_name=torch.npu.get_device_name(0), driver=_tool_output(["npu-smi", "-v"]))
    return info


def _tool_output(command: list[str]) -> str | None:
    """First line a vendor tool prints, or None where it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.strip().splitlines()
    return lines[0].strip() if lines else None


def distributed_backend(device: str) -> str:
    return {"cpu": "gloo", "cuda": "nccl", "npu": "hccl"}[device]
