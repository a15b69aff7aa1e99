"""A content-addressed cache of per-file results, so a re-run over a huge repository only ports what changed.

On by default in the user's cache directory. The key covers everything a result depends on: porter's own code (a
hash of its package's files and of the templates generated code comes from, so an edited checkout never reuses
results of the code before the edit), the active rules (their content hash, which covers the target version), the
repository's own module names and other backends, the file's path, kind and bytes. Each entry carries a hash of
its own content: an unreadable, truncated or altered entry is a miss, and the fresh result replaces it. Entries
are written atomically under unique temporary names, so runs sharing a cache never see each other's half-written
files; the least recently used entries are evicted when the cache outgrows its bound.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from pathlib import Path

import porter
from porter.findings import FileResult
from porter.lossless_io import replace_unsynced
from porter.resources import data_dir

DEFAULT_MAX_BYTES = 2 << 30
_EVICT_TO = 0.8  # of the bound, so that a cache at its bound is not trimmed again by every run


def default_directory() -> Path:
    """`$XDG_CACHE_HOME/porter`, or `~/.cache/porter`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "porter"


def source_hash(*folders: Path) -> str:
    """A hash of the names and bytes of every file under `folders`, data files included, bytecode caches left out."""
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(folder.name.encode() + b"\0")
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def code_hash() -> str:
    """The source hash of the running porter package and its templates, computed once per process."""
    return source_hash(Path(porter.__file__).resolve().parent, data_dir("templates"))


def cache_key(ruleset_hash: str, local_modules: frozenset[str], kind: str, data: bytes,
              relpath: str = "", repo_backends: frozenset[str] = frozenset(), facts_reader: str = "") -> str:
    """The path is part of the key: safety policies judge a file by its name too (`hpu_accelerator.py`).
    `facts_reader` names what read the result's facts (none: ""), so a result without them is not reused."""
    digest = hashlib.sha256()
    for part in (code_hash(), ruleset_hash, ",".join(sorted(local_modules)), kind, relpath,
                 ",".join(sorted(repo_backends)), facts_reader):
        digest.update(part.encode() + b"\0")
    digest.update(data)
    return digest.hexdigest()


def _entry_path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.json"


def load_payload(directory: Path, key: str) -> bytes | None:
    """The payload stored under `key`, or None when there is none or it fails its checksum."""
    path = _entry_path(directory, key)
    try:
        checksum, _, payload = path.read_bytes().partition(b"\n")
    except OSError:
        return None
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        return None
    try:
        os.utime(path)  # eviction removes the least recently used entries first
    except OSError:
        pass
    return payload


def store_payload(directory: Path, key: str, payload: bytes) -> None:
    try:
        replace_unsynced(_entry_path(directory, key),  # no fsync: a torn entry fails its checksum
                         hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    except OSError:
        pass  # a cache that cannot be written only costs speed


def load(directory: Path, key: str, relpath: str) -> FileResult | None:
    payload = load_payload(directory, key)
    if payload is None:
        return None
    try:
        entry = json.loads(payload)
        result = FileResult.from_dict({**entry["result"], "path": relpath})
        if entry.get("new_bytes") is not None:
            result.new_bytes = base64.b64decode(entry["new_bytes"])
        result.generated = {name: base64.b64decode(data) for name, data in entry.get("generated", {}).items()}
        if entry.get("facts") is not None:
            result.facts = base64.b64decode(entry["facts"])
    except (ValueError, KeyError, TypeError):
        return None
    for finding in result.findings:
        finding.path = relpath
    result.cached = True
    return result


def store(directory: Path, key: str, result: FileResult) -> None:
    entry = {"result": result.to_dict(),
             "new_bytes": None if result.new_bytes is None else base64.b64encode(result.new_bytes).decode(),
             "generated": {path: base64.b64encode(data).decode() for path, data in result.generated.items()},
             "facts": None if result.facts is None else base64.b64encode(result.facts).decode()}
    store_payload(directory, key, json.dumps(entry).encode())


def evict(directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Remove the least recently used entries while the cache is larger than `max_bytes`; returns how many."""
    entries = []
    for path in directory.glob("??/*.json"):
        try:
            stat = path.stat()
        except OSError:
            continue  # another run evicted it
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return 0
    removed = 0
    for _, size, path in sorted(entries):
        if total <= max_bytes * _EVICT_TO:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed
