"""What the repository already supports: a cheap text scan of its Python files before porting.

Two uses: the other backends the repository names anywhere make the safety policies treat CUDA-named code as
one backend among several (PY011), and evidence that NPU support already exists opens the report.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

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


def scan(root: Path, sources: list[SourceFile], ruleset: RuleSet) -> tuple[frozenset[str], list[Evidence]]:
    """(other backends named anywhere in the Python code, evidence that the target backend is supported)."""
    markers = markers_of(ruleset)
    if markers is None:
        return frozenset(), []
    words = {w for b in markers.others if b.dispatch for w in b.segments}
    prefilter = re.compile("|".join(sorted(map(re.escape, words))))  # on lowered text: ten times faster than
    # re.IGNORECASE
    target = [b for b in markers.others if b.name == markers.target]  # as _target_evidence reads it: none, or one
    target_segments = {segment for b in target for segment in b.segments}
    quoted = [quote + value for b in target for value in b.values for quote in "'\""]  # what a switch compares with
    named: set[str] = set()
    evidence: list[Evidence] = []
    seen: set[str] = set()  # identifiers looked at, each once per run
    naming_target: set[str] = set()  # those that name the target
    for source in sources:
        if source.kind != "python" or not source.port:
            continue
        try:
            text = _COMMENT.sub("", (root / source.relpath).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if not prefilter.search(text.lower()):
            continue
        identifiers = set(_WORD.findall(text))
        for word in identifiers - seen:
            parts = segments(word)
            if parts & words:
                named |= markers.name_backends(word, dispatch_only=True)
            if parts & target_segments:
                naming_target.add(word)
        seen |= identifiers
        if not identifiers.isdisjoint(naming_target) or any(value in text for value in quoted):  # else no import,
            # definition or switch names the target
            evidence += _target_evidence(source.relpath, text, markers)
    return frozenset(named - {markers.source.name}), evidence


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
