import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.parity.parity_helpers import FIXTURES  # noqa: E402


@pytest.fixture
def custom_suite(tmp_path) -> Path:
    """A copy of the custom-op fixture suite (goldens are written into the suite directory)."""
    return Path(shutil.copytree(FIXTURES / "custom_op", tmp_path / "custom_op"))
