"""What the repository already supports: a cheap text scan of its Python files before porting.

Two uses: the other backends the repository names anywhere make the safety policies treat CUDA-named code as
one backend among several (PY011), and evidence that NPU support already exists opens the report.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from porter import cache
from porter.discover import SourceFile
from porter.findings import FileResult, Finding, Outcome, Status
from porter.python.backends import Markers, markers_of, segments
from porter.ruleset import RuleSet

_COMMENT = re.compile(r"#[^\n'\"]*$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_DEFINITION = re.compile(r"^\s*(class|def)\s+(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class Evidence:
    path: str
    line: int
    what: str


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _target_evidence(path: str, text: str, markers: Markers) -> list[Evidence]:
    target = markers.target
    found = []
    for match in _IMPORT.finditer(text):
        if markers.name_backends(match.group(1).split(".")[0]) & {target}:
            found.append(Evidence(path, _line_of(text, match.start(1)), f"imports `{match.group(1)}`"))
    values = "|".join(re.escape(v) for b in markers.others if b.name == target for v in sorted(b.values))
    switch = re.compile(rf"""(?:==|!=)\s*(['"])({values})(?::\w*)?\1|(['"])({values})(?::\w*)?\3\s*(?:==|!=)""")
    for match in switch.finditer(text):
        value = match.group(2) or match.group(4)
        found.append(Evidence(path, _line_of(text, match.start()), f"compares with \"{value}\": a backend switch"))
    for match in _DEFINITION.finditer(text):
        if target in markers.name_backends(match.group(2)):
            found.append(Evidence(path, _line_of(text, match.start(2)), f"defines {match.group(1)} `{match.group(2)}`"))
    return found


def scan(root: Path, sources: list[SourceFile], ruleset: RuleSet,
         cache_dir: Path | None = None) -> tuple[frozenset[str], list[Evidence]]:
    """(other backends named anywhere in the Python code, evidence that the target backend is supported).
    ``cache_dir``: where each file's outcome is kept by a hash of its bytes, so that a re-run scans only the
    files that changed."""
    markers = markers_of(ruleset)
    if markers is None:
        return frozenset(), []
    scanner = _Scanner(markers)
    key = hashlib.sha256(f"backend-scan\0{cache.code_hash()}\0{ruleset.content_hash}\0{root.resolve()}".encode())
    known = _load_index(cache_dir, key.hexdigest()) if cache_dir is not None else {}  # empty: every file scanned
    index: dict[str, list] = {}  # relpath -> [sha256 of its bytes, backends named, [[line, what], ...]]
    for source in sources:
        if source.kind != "python" or not source.port:
            continue
        try:
            data = (root / source.relpath).read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest() if cache_dir is not None else ""
        entry = known.get(source.relpath)
        if entry is None or entry[0] != digest:
            named, evidence = scanner.scan_file(source.relpath, _as_text(data))
            entry = [digest, sorted(named), [[e.line, e.what] for e in evidence]]
        index[source.relpath] = entry
    if cache_dir is not None and index != known:
        cache.store_payload(cache_dir, key.hexdigest(), json.dumps(index).encode())
    named = {backend for entry in index.values() for backend in entry[1]}
    evidence = [Evidence(path, line, what) for path, entry in index.items() for line, what in entry[2]]
    return frozenset(named - {markers.source.name}), evidence


def _load_index(cache_dir: Path, key: str) -> dict[str, list]:
    payload = cache.load_payload(cache_dir, key)
    try:
        index = json.loads(payload) if payload is not None else {}
    except ValueError:
        return {}
    return index if isinstance(index, dict) else {}


def _as_text(data: bytes) -> str:
    """As a file opened in text mode with UTF-8 and errors="replace" reads it."""
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


class _Scanner:
    """One file at a time; each identifier is looked at once per run."""

    def __init__(self, markers: Markers) -> None:
        self.markers = markers
        self.words = {w for b in markers.others if b.dispatch for w in b.segments}
        self.prefilter = re.compile("|".join(sorted(map(re.escape, self.words))))  # on lowered text: ten times
        # faster than re.IGNORECASE
        target = [b for b in markers.others if b.name == markers.target]  # as _target_evidence reads it
        self.target_segments = {segment for b in target for segment in b.segments}
        self.quoted = [quote + value for b in target for value in b.values for quote in "'\""]  # switch values
        self.seen: set[str] = set()
        self.backends: dict[str, frozenset[str]] = {}  # identifiers that name a backend -> those backends
        self.naming_target: set[str] = set()

    def scan_file(self, path: str, text: str) -> tuple[set[str], list[Evidence]]:
        text = _COMMENT.sub("", text)
        if not self.prefilter.search(text.lower()):
            return set(), []
        identifiers = set(_WORD.findall(text))
        for word in identifiers - self.seen:
            parts = segments(word)
            if parts & self.words:
                self.backends[word] = frozenset(self.markers.name_backends(word, dispatch_only=True))
            if parts & self.target_segments:
                self.naming_target.add(word)
        self.seen |= identifiers
        named = {backend for word in identifiers & self.backends.keys() for backend in self.backends[word]}
        if identifiers.isdisjoint(self.naming_target) and not any(value in text for value in self.quoted):
            return named, []  # no import, definition or switch names the target
        return named, _target_evidence(path, text, self.markers)


def support_summary(ruleset: RuleSet, named: frozenset[str], evidence: list[Evidence]) -> dict | None:
    """The report's `backend_support` section, or None when the repository names no other backend."""
    markers = markers_of(ruleset)
    if markers is None or not (named or evidence):
        return None
    return {"target": markers.target, "other_backends": sorted(named), "evidence": [asdict(e) for e in evidence]}


def left_to_its_backend(result: FileResult, ruleset: RuleSet) -> FileResult | None:
    """A build file, script or native source whose path names another backend (`csrc/npu/`, `hpu_launch.sh`) is
    that backend's: copied unchanged with one finding in place of what the frontend proposed (PY011's rule)."""
    markers = markers_of(ruleset)
    rule = next((r for r in ruleset.of_kind("backend_implementation")), None)
    if markers is None or rule is None:
        return None
    others = markers.path_backends(result.path) - {markers.source.name}
    if not others:
        return None
    message = (f"this file implements {', '.join(sorted(others))}: porter leaves it alone "
               f"({len(result.findings)} finding(s) withheld)")
    return FileResult(result.path, result.kind, Outcome.FLAGGED, [Finding(rule.id, rule.category, Status.REVIEW,
                                                                            message)], result.error)
