import pytest

from porter.ruleset import load_ruleset


@pytest.fixture(scope="session")
def ruleset():
    return load_ruleset("2.13.0")
