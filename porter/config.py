"""`[tool.porter]` in the ported repository's pyproject.toml: project defaults for `port` and `analyze`.

    [tool.porter]
    target = "2.13.0"
    include = ["src/**"]
    exclude = ["third_party/**"]
    fail-on = "unsupported"
    rules = ["porter-rules.yaml"]      # relative to the pyproject.toml
    format = ["json", "html", "sarif"]

An option given on the command line always wins over the file.
"""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

# key in the file -> (command-line parameter, type)
KEYS = {"target": ("target", str), "include": ("include", list), "exclude": ("exclude", list),
        "fail-on": ("fail_on", str), "rules": ("rule_files", list), "format": ("formats", list)}


class ConfigError(ValueError):
    """A [tool.porter] table porter cannot use; the message names the file and the key."""


def load_config(source: Path) -> dict:
    """Command-line parameter name -> value from SOURCE/pyproject.toml's [tool.porter]; {} when there is none."""
    path = source / "pyproject.toml"
    if not path.is_file():
        return {}
    if tomllib is None:
        raise ConfigError(f"{path}: reading [tool.porter] needs Python 3.11+ (tomllib)")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("porter", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    values = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: [tool.porter] has no key {key!r}; known: {', '.join(KEYS)}")
        name, kind = KEYS[key]
        if kind is list and isinstance(value, str):
            value = [value]
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{path}: [tool.porter] {key} must be {'a list of strings' if kind is list else 'a string'}")
        if key == "rules":
            value = [str(path.parent / v) for v in value]
        values[name] = tuple(value) if kind is list else value
    return values
