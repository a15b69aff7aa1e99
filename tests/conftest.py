import pytest

from porter.ruleset import load_ruleset


@pytest.fixture(autouse=True)
def _private_result_cache(tmp_path_factory, monkeypatch):
    """The result cache is on by default: each test gets its own, so no test sees another's results (or the
    user's cache)."""
    monkeypatch.setenv("PORTER_CACHE_DIR", str(tmp_path_factory.mktemp("porter-cache")))


@pytest.fixture(scope="session")
def ruleset():
    return load_ruleset("2.13.0")
