"""Where porter's data lives: inside the installed wheel, or the repository's top-level folders in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = {"rules": "porter._rules", "templates": "porter._templates"}


def data_dir(name: str) -> Path:
    """The `rules` or `templates` folder."""
    try:
        packaged = Path(str(resources.files(_PACKAGES[name])))
    except ModuleNotFoundError:
        packaged = None
    if packaged is not None and packaged.is_dir():
        return packaged
    return _REPO_ROOT / name
