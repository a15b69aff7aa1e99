"""pytest integration for a generated suite: options, a session fixture, one test per case.

The generated ``conftest.py`` re-exports the hooks and the fixture below, so
``pytest <suite>`` runs the same cases as ``porter parity compare``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from porter.parity.suite import load_suite


def default_device() -> str:
    """PORTER_PARITY_DEVICE, else npu where torch_npu imports, else cpu."""
    if os.environ.get("PORTER_PARITY_DEVICE"):
        return os.environ["PORTER_PARITY_DEVICE"]
    try:
        import torch_npu  # noqa: F401
    except Exception:  # not installed, or a broken install: fall back to the CPU
        return "cpu"
    return "npu"


def pytest_addoption(parser):
    group = parser.getgroup("porter-parity")
    group.addoption("--parity-device", default=None, help="target backend: cpu | cuda | npu (default: npu if torch_npu imports, else cpu)")
    group.addoption("--parity-golden", default=None, help="golden set directory (default: <suite>/golden)")


def pytest_report_header(config):
    return f"porter parity: target device {config.getoption('--parity-device', default=None) or default_device()}"


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
    """Skips every case when no golden set was recorded yet; fails when the device is unusable."""
    from porter.parity.device import DeviceError
    from porter.parity.golden import GoldenError

    suite_dir = Path(request.module.__file__).parent
    device = request.config.getoption("--parity-device", default=None) or default_device()
    golden_dir = Path(request.config.getoption("--parity-golden", default=None) or suite_dir / "golden")
    try:
        return ParitySession(suite_dir, device, golden_dir)
    except GoldenError as exc:
        pytest.skip(str(exc))
    except DeviceError as exc:
        pytest.fail(str(exc), pytrace=False)
