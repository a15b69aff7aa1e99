"""Where porter's data lives: inside the installed wheel, or the repository's top-level folders in a checkout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = {"rules": "porter._rules", "templates": "porter._templates"}


def data_dir(name: str) -> Path:
    """The `rules` or `templates` folder (data-only namespace packages when installed)."""
    try:
        spec = importlib.util.find_spec(_PACKAGES[name])
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return _REPO_ROOT / name
