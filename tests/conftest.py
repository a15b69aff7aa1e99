from pathlib import Path

import pytest

from porter.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
TARGET = "2.13.0"


@pytest.fixture(scope="session")
def ruleset():
    return load_ruleset(TARGET)
