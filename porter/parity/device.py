"""Backend selection, precision pinning, and the environment record a golden manifest carries."""

from __future__ import annotations

import platform
import shutil
import subprocess

DEVICES = ("cpu", "cuda", "npu")


class DeviceError(RuntimeError):
    """The requested backend is not usable here (exit code 2)."""


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
    """TF32 (CUDA) and HF32 (NPU) off on both sides, so fp32 means fp32 wherever a case runs."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    pinned = {"cuda.matmul.allow_tf32": False, "cudnn.allow_tf32": False, "float32_matmul_precision": "highest"}
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
