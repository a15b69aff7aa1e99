"""Which backend a piece of code names, from the rule data's backend markers (the engine names no backend itself).

Identifiers are split into word segments (`is_npu_available` -> is, npu, available; `HPUAccelerator` -> hpu,
accelerator); a string names a backend when its value is one of the backend's values, alone or as `value:N`.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

_SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@functools.lru_cache(maxsize=1 << 16)  # a module repeats its identifiers many times
def segments(identifier: str) -> frozenset[str]:
    return frozenset(s.lower() for s in _SEGMENT.findall(identifier))


@dataclass(frozen=True)
class Backend:
    name: str
    segments: frozenset[str]  # identifier segments that name it (`npu`, `hccl`)
    values: frozenset[str]  # device/backend strings that name it (`npu`, `hccl`)
    dispatch: bool = True  # False: names it only as an implementation (a `CPU_Accelerator`), not in a condition


@dataclass(frozen=True)
class Markers:
    source: Backend  # the backend porter ports away from
    target: str  # the name of the backend porter ports to (one of `others`)
    others: tuple[Backend, ...]

    @classmethod
    def from_data(cls, data: dict) -> "Markers":
        def backend(name: str, raw: dict) -> Backend:
            return Backend(name, frozenset(raw.get("segments", ())), frozenset(raw.get("values", ())),
                           bool(raw.get("dispatch", True)))

        return cls(backend(data["source"]["name"], data["source"]), data["target"],
                   tuple(backend(name, raw) for name, raw in data["others"].items()))

    def value_backends(self, value: str) -> set[str]:
        """Backends a string value names (`"npu:0"` -> {npu})."""
        head = value.split(":", 1)[0].strip().lower()
        found = {b.name for b in self.others if head in b.values}
        if head in self.source.values:
            found.add(self.source.name)
        return found

    def name_backends(self, identifier: str, dispatch_only: bool = False) -> set[str]:
        parts = segments(identifier)
        found = {b.name for b in self.others if parts & b.segments and (b.dispatch or not dispatch_only)}
        if parts & self.source.segments:
            found.add(self.source.name)
        return found

    def path_backends(self, relpath: str) -> set[str]:
        """Backends a file's path names (`accelerator/hpu_accelerator.py`, `csrc/npu/adam.cpp`), source included."""
        return self.name_backends(re.sub(r"[./-]", "_", os.path.splitext(relpath)[0]))

    def mentions_source(self, text: str) -> bool:
        return bool(segments(text) & self.source.segments)


_OF_RULESET: dict[str, Markers | None] = {}


def markers_of(ruleset) -> Markers | None:
    """The backend markers of a rule set (the `markers` of its safety rules), parsed once per rule set."""
    if ruleset.content_hash not in _OF_RULESET:
        rule = next((r for r in ruleset.rules if "markers" in r.contexts), None)
        _OF_RULESET[ruleset.content_hash] = Markers.from_data(rule.contexts["markers"]) if rule is not None else None
    return _OF_RULESET[ruleset.content_hash]
