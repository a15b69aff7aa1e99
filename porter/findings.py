"""The report model: every view (JSON, Markdown, exit code, parity list) is derived from these records."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from porter.ruleset import Entry, Rule

SCHEMA_VERSION = "1.0"


class Status(str, Enum):
    CONVERTED = "converted"
    REVIEW = "review"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


STATUS_OF_ENTRY = {"auto": Status.CONVERTED, "review": Status.REVIEW, "unsupported": Status.UNSUPPORTED}  # rule data


class Outcome(str, Enum):
    UNCHANGED = "unchanged"  # read, nothing to port: copied byte for byte
    CONVERTED = "converted"  # rewritten
    FLAGGED = "flagged"  # not rewritten, but has findings a human must read
    COPIED = "copied"  # not a source file porter reads (binary, data, symlink)
    ERROR = "error"  # could not be read or parsed: copied as is, see the error


@dataclass(frozen=True)
class Span:
    """1-based lines, 1-based columns, end inclusive of the last character's column."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass
class Finding:
    rule_id: str
    category: str
    status: Status
    message: str
    span: Span | None = None
    original: str = ""
    replacement: str | None = None
    path: str = ""
    # the original as one expression of its inputs, where it reads names assigned before it (`F.silu(a) * b` after
    # `a, b = x.chunk(2, -1)`): what a parity case runs
    computes: str | None = None

    @property
    def doc(self) -> str:
        """The rule's page, relative to the report directory (porter writes it there)."""
        return f"rules/{self.rule_id}.md"

    def to_dict(self) -> dict:
        data = dict(vars(self))  # dataclasses.asdict deep-copies: a fifth of writing a big report
        data["span"] = None if self.span is None else dict(vars(self.span))
        if data["computes"] is None:
            del data["computes"]
        data["status"] = self.status.value
        data["doc"] = self.doc
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Finding":
        return cls(
            rule_id=data["rule_id"], category=data["category"], status=Status(data["status"]),
            message=data["message"], span=Span(**data["span"]) if data.get("span") else None,
            original=data.get("original", ""), replacement=data.get("replacement"), path=data.get("path", ""),
            computes=data.get("computes"),
        )


def entry_finding(rule: Rule, entry: Entry, span: Span | None = None, original: str = "",
                  replacement: str | None = None, detail: str = "") -> Finding:
    """A finding for a rule entry that matched: the entry's status, its message (the rule's summary when it has
    none) and the `detail` of this match in parentheses."""
    message = entry.message or rule.summary
    return Finding(rule.id, rule.category, STATUS_OF_ENTRY[entry.status], f"{message} ({detail})" if detail else message,
                   span, original, replacement)


@dataclass
class FileResult:
    path: str  # relative to the source root, POSIX separators
    kind: str  # python, native, build, binary, other, symlink
    outcome: Outcome
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    new_bytes: bytes | None = None  # only when outcome is CONVERTED; never serialised
    diff: str | None = None  # unified diff of a converted file, for the report views (schema 1.1)
    generated: dict[str, bytes] = field(default_factory=dict)  # new files made from this one: output relpath -> bytes
    porter_failed: bool = False  # porter itself failed on it (a bug, or out of memory): never cached, so a rerun retries
    facts: bytes | None = None  # what PortOptions.read_facts read from a Python file; cached, never in the report
    cached: bool = False  # taken from the result cache; never serialised

    def to_dict(self) -> dict:
        data = {
            "path": self.path,
            "kind": self.kind,
            "outcome": self.outcome.value,
            "error": self.error,
            "counts": dict(Counter(f.status.value for f in self.findings)),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.diff is not None:
            data["diff"] = self.diff
        if self.generated:
            data["generated"] = sorted(self.generated)  # the bytes are written to the tree, not the report
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FileResult":
        """A report read back keeps the names of the generated files, not their bytes (written with the tree, never
        to the report): views and a rewritten report.json list them, and nothing writes a tree from a report."""
        return cls(path=data["path"], kind=data["kind"], outcome=Outcome(data["outcome"]), error=data.get("error"),
                   findings=[Finding.from_dict(x) for x in data["findings"]], diff=data.get("diff"),
                   generated=dict.fromkeys(data.get("generated", ()), b""))


@dataclass
class ParityRecord:
    """One parity case's verdict as `porter parity compare` reports it: the deciding check and every check."""

    case: str
    op: str
    dtype: str
    status: str  # pass | fail | error
    metric: str | None = None
    tensor: str | None = None
    standard: str | None = None
    value: float | str | None = None
    threshold: float | str | None = None
    reference: float | str | None = None  # the reference's own value of the metric
    message: str = ""
    checks: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ParityRecord":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass
class Report:
    porter_version: str
    rules_version: str
    target: str
    source: str
    output: str | None
    files: list[FileResult] = field(default_factory=list)
    parity: list[ParityRecord] | None = None  # per-case verdicts, filled by `porter parity compare`
    parity_suite: str | None = None  # where `porter port` wrote the generated parity suite
    ignored_copied: int = 0  # files .gitignore excludes: copied unchanged, never read (not in `files`)
    skipped: list[str] = field(default_factory=list)  # paths .gitignore excludes that were left out; folders end in /
    incomplete: bool = False  # the run was interrupted before its output was whole
    backend_support: dict | None = None  # other backends the repository names, evidence it supports the target

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings]

    def totals(self) -> dict:
        by_status = Counter(f.status.value for f in self.findings)
        by_outcome = Counter(r.outcome.value for r in self.files)
        return {
            "files": len(self.files),
            "files_by_outcome": {o.value: by_outcome.get(o.value, 0) for o in Outcome},
            "findings_by_status": {s.value: by_status.get(s.value, 0) for s in Status},
            "findings_by_category": dict(sorted(Counter(f.category for f in self.findings).items())),
            "manual_items": sum(by_status.get(s.value, 0) for s in (Status.REVIEW, Status.UNSUPPORTED, Status.UNKNOWN)),
            "ignored_copied": self.ignored_copied,
            "ignored_skipped": len(self.skipped),
            **({} if self.parity is None else {"parity_cases_by_status": {
                status: sum(p.status == status for p in self.parity) for status in ("pass", "fail", "error")}}),
        }

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "porter_version": self.porter_version,
            "rules_version": self.rules_version,
            "target": self.target,
            "source": self.source,
            "output": self.output,
            "totals": self.totals(),
            "files": [r.to_dict() for r in sorted(self.files, key=lambda r: r.path)],
            "parity_suite": self.parity_suite,
            "parity": None if self.parity is None else [p.to_dict() for p in self.parity],
            "skipped": sorted(self.skipped),
            "incomplete": self.incomplete,
            "backend_support": self.backend_support,
        }
