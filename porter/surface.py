"""Read the API surface snapshots in rules/targets (written by scripts/extract_api_surface.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from porter.resources import data_dir

NAMESPACES = ("python", "tensor_methods", "module_methods", "ops", "env_vars",
              "c_functions", "c_constants", "c_types", "c_headers")  # what scripts/extract_api_surface.py writes


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: loads are cached
class Surface:
    package: str
    version: str
    extracted_from: str
    names: dict[str, frozenset[str]]

    def has(self, namespace: str, name: str) -> bool:
        if namespace not in NAMESPACES:
            raise ValueError(f"unknown namespace {namespace!r}; expected one of {NAMESPACES}")
        return name in self.names[namespace]

    def has_python(self, name: str) -> bool:
        """True only for dotted names the snapshot lists.

        Attributes of a listed class or module (torch.npu.Stream.synchronize) are listed
        explicitly by the extractor, so nothing is inferred here.
        """
        return self.has("python", name)


def _targets_dir() -> Path:
    return data_dir("rules") / "targets"


def release(version: str) -> tuple[int, int, int]:
    """The release a version names, for comparing versions: 2.13.0.post1 / 2.13.0+cpu / 2.13 -> (2, 13, 0)."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def available_versions(package: str) -> list[str]:
    prefix = f"{package}-"
    versions = [path.stem[len(prefix):] for path in _targets_dir().glob(f"{prefix}*.json")
                if path.stem[len(prefix):][:1].isdigit()]
    return sorted(versions, key=release)


@lru_cache(maxsize=None)
def load_surface(package: str, version: str) -> Surface:
    path = _targets_dir() / f"{package}-{version}.json"
    if not path.is_file():
        known = ", ".join(available_versions(package)) or "none"
        raise FileNotFoundError(f"no API snapshot for {package} {version} (available: {known})")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Surface(
        package=data["package"],
        version=data["version"],
        extracted_from=data["extracted_from"],
        names={namespace: frozenset(data.get(namespace, ())) for namespace in NAMESPACES},
    )
