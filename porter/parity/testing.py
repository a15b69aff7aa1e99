"""pytest integration for a generated suite: options, a session fixture, one test per case.

The generated ``conftest.py`` re-exports the hooks and the fixture below, so
``pytest <suite>`` runs the same cases as ``porter parity compare``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from porter.parity.suite import load_suite


def default_device() -> str:
    """PORTER_PARITY_DEVICE, else npu where torch_npu loads, else cpu.

    Whether torch_npu loads is asked of a child process: a torch_npu that cannot load (no CANN)
    makes ``import torch`` raise, and a failed torch import cannot be retried in this process.
    """
    if os.environ.get("PORTER_PARITY_DEVICE"):
        return os.environ["PORTER_PARITY_DEVICE"]
    return "npu" if _torch_npu_loads() else "cpu"


@functools.cache
def _torch_npu_loads() -> bool:
    if "torch_npu" in sys.modules:
        return True
    if importlib.util.find_spec("torch_npu") is None:
        return False
    return subprocess.run([sys.executable, "-c", "import torch, torch_npu"], capture_output=True, timeout=300).returncode == 0


def pytest_addoption(parser):
    group = parser.getgroup("porter-parity")
    group.addoption("--parity-device", default=None, help="target backend: cpu | cuda | npu (default: npu if torch_npu imports, else cpu)")
    group.addoption("--parity-golden", default=None, help="golden set directory (default: <suite>/golden)")


def pytest_configure(config):
    """Before any case module imports torch: a target other than npu keeps torch_npu from autoloading."""
    from porter.parity.device import AUTOLOAD

    if _device(config) != "npu" and "torch" not in sys.modules:
        os.environ.setdefault(AUTOLOAD, "0")


def _device(config) -> str:
    return config.getoption("--parity-device", default=None) or default_device()


def pytest_report_header(config):
    return f"porter parity: target device {_device(config)}"


def case_names(suite_dir: Path) -> list[str]:
    return [case.name for case in load_suite(suite_dir).cases]


class ParitySession:
    """One suite, device and golden set for the generated test module; compares a case on request."""

    def __init__(self, suite_dir: Path, device: str, golden_dir: Path):
        from porter.parity import device as devices
        from porter.parity import golden

        self.suite = load_suite(suite_dir)
        self.device = device
        self.golden_dir = golden_dir
        devices.prepare(device)
        golden.load_manifest(golden_dir)

    def compare(self, name: str):
        from porter.parity.harness import compare

        case = next(c for c in self.suite.cases if c.name == name)
        verdicts, _ = compare(self.suite, self.device, self.golden_dir, [case])
        return verdicts[0]


@pytest.fixture(scope="module")
def parity_session(request) -> ParitySession:
    """Skips every case only when nothing was recorded yet; any other golden or device problem is an error."""
    from porter.parity.device import DeviceError, import_torch
    from porter.parity.golden import GoldenError, NoGoldenSet

    suite_dir = Path(request.module.__file__).parent
    device = _device(request.config)
    golden_dir = Path(request.config.getoption("--parity-golden", default=None) or suite_dir / "golden")
    try:
        import_torch(device)
        return ParitySession(suite_dir, device, golden_dir)
    except NoGoldenSet as exc:
        pytest.skip(str(exc))
    except (GoldenError, DeviceError) as exc:
        pytest.fail(str(exc), pytrace=False)
