from pathlib import Path

import libcst as cst
import pytest

from porter.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _private_result_cache(tmp_path_factory, monkeypatch):
    """The result cache is on by default: each test gets its own, so no test sees another's results (or the
    user's cache)."""
    monkeypatch.setenv("PORTER_CACHE_DIR", str(tmp_path_factory.mktemp("porter-cache")))


@pytest.fixture(scope="session")
def ruleset():
    return load_ruleset("2.13.0")


@pytest.fixture(params=sorted((ROOT / "fixtures").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def fixture_module(request) -> cst.Module:
    """Each Python fixture's libcst tree in turn (a fixture that is not Python 3 skips)."""
    try:
        return cst.parse_module(request.param.read_text(encoding="utf-8"))
    except cst.ParserSyntaxError:
        pytest.skip("not Python 3")
