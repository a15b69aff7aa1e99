"""A content-addressed cache of per-file results, so a re-run over a huge repository only ports what changed.

The key covers everything a result depends on: porter's own code (a hash of its package's source files, so an
edited checkout never reuses results of the code before the edit), the active rules (their content hash), the
repository's own module names, the file's kind and its bytes. An unreadable or corrupt entry is a miss.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path

import porter
from porter.findings import FileResult
from porter.lossless_io import write_atomic


def source_hash(package: Path) -> str:
    """A hash of the names and bytes of every Python file under `package`."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def code_hash() -> str:
    """The source hash of the running porter package, computed once per process."""
    return source_hash(Path(porter.__file__).resolve().parent)


def cache_key(ruleset_hash: str, local_modules: frozenset[str], kind: str, data: bytes,
              relpath: str = "", repo_backends: frozenset[str] = frozenset()) -> str:
    """The path is part of the key: safety policies judge a file by its name too (`hpu_accelerator.py`)."""
    digest = hashlib.sha256()
    for part in (code_hash(), ruleset_hash, ",".join(sorted(local_modules)), kind, relpath,
                 ",".join(sorted(repo_backends))):
        digest.update(part.encode() + b"\0")
    digest.update(data)
    return digest.hexdigest()


def load(directory: Path, key: str, relpath: str) -> FileResult | None:
    try:
        entry = json.loads((directory / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
        result = FileResult.from_dict({**entry["result"], "path": relpath})
        if entry.get("new_bytes") is not None:
            result.new_bytes = base64.b64decode(entry["new_bytes"])
        result.generated = {path: base64.b64decode(data) for path, data in entry.get("generated", {}).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for finding in result.findings:
        finding.path = relpath
    return result


def store(directory: Path, key: str, result: FileResult) -> None:
    entry = {"result": result.to_dict(),
             "new_bytes": None if result.new_bytes is None else base64.b64encode(result.new_bytes).decode(),
             "generated": {path: base64.b64encode(data).decode() for path, data in result.generated.items()}}
    try:
        write_atomic(directory / key[:2] / f"{key}.json", json.dumps(entry).encode())
    except OSError:
        pass  # a cache that cannot be written only costs speed
