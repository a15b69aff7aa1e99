"""Loading and validating rules: the mappings themselves live as YAML data in the top-level rules/ folder."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from porter.resources import data_dir

KINDS = ("rename", "method", "context_string", "import", "env_var", "residual", "support_import", "input", "text_residual", "native_inventory")
ENTRY_STATUSES = ("auto", "review", "unsupported")
ID_PATTERN = re.compile(r"^[A-Z]{2,4}\d{3}$")


class RuleError(ValueError):
    """A rule file does not follow the schema; the message names the file and the rule."""


@dataclass(frozen=True)
class Entry:
    """One row of a rule's mapping table."""

    pattern: str
    status: str = "auto"
    replacement: str | None = None
    message: str = ""
    insert_args: tuple[str, ...] = ()  # source text of positional arguments to prepend (rename kind)
    positional_names: tuple[str, ...] = ()  # keywords for the call's own positional arguments once args are prepended
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    category: str
    summary: str
    doc: str
    entries: tuple[Entry, ...]
    example_before: str = ""
    example_after: str = ""
    contexts: dict = field(default_factory=dict, hash=False, compare=False)
    since: str | None = None
    until: str | None = None
    adds_import: bool = True  # a file this rule converts needs the support import (PY001)
    origin: str = ""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def applies_to(item: Rule | Entry, target: str) -> bool:
    key = _version_key(target)
    if item.since and key < _version_key(item.since):
        return False
    return not (item.until and key >= _version_key(item.until))


def _entry(raw: dict, where: str) -> Entry:
    if "pattern" not in raw:
        raise RuleError(f"{where}: entry without 'pattern': {raw!r}")
    status = raw.get("status", "auto")
    if status not in ENTRY_STATUSES:
        raise RuleError(f"{where}: entry {raw['pattern']!r} has status {status!r}; expected one of {ENTRY_STATUSES}")
    if status == "auto" and raw.get("replacement") is None:
        raise RuleError(f"{where}: entry {raw['pattern']!r} is 'auto' but has no replacement")
    unknown = set(raw) - {"pattern", "status", "replacement", "message", "insert_args", "positional_names", "since", "until"}
    if unknown:
        raise RuleError(f"{where}: entry {raw['pattern']!r} has unknown keys {sorted(unknown)}")
    return Entry(
        pattern=str(raw["pattern"]),
        status=status,
        replacement=raw.get("replacement"),
        message=str(raw.get("message", "")).strip(),
        insert_args=tuple(raw.get("insert_args", ())),
        positional_names=tuple(raw.get("positional_names", ())),
        since=raw.get("since"),
        until=raw.get("until"),
    )


def _rule(raw: dict, origin: str) -> Rule:
    rule_id = raw.get("id", "?")
    where = f"{origin}: rule {rule_id}"
    for key in ("id", "name", "kind", "category", "summary", "doc"):
        if not raw.get(key):
            raise RuleError(f"{where}: missing '{key}'")
    if not ID_PATTERN.match(rule_id):
        raise RuleError(f"{where}: id must look like PY101 (2-4 capitals, 3 digits)")
    if raw["kind"] not in KINDS:
        raise RuleError(f"{where}: unknown kind {raw['kind']!r}; expected one of {KINDS}")
    unknown = set(raw) - {"id", "name", "kind", "category", "summary", "doc", "entries", "example", "contexts", "since", "until", "adds_import"}
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
    entries = tuple(_entry(e, where) for e in raw.get("entries", ()))
    if len({e.pattern for e in entries}) != len(entries):
        raise RuleError(f"{where}: duplicate entry patterns")
    example = raw.get("example") or {}
    return Rule(
        id=rule_id,
        name=raw["name"],
        kind=raw["kind"],
        category=raw["category"],
        summary=raw["summary"].strip(),
        doc=raw["doc"].strip(),
        entries=entries,
        example_before=example.get("before", ""),
        example_after=example.get("after", ""),
        contexts=raw.get("contexts") or {},
        since=raw.get("since"),
        until=raw.get("until"),
        adds_import=bool(raw.get("adds_import", True)),
        origin=origin,
    )


def load_rule_file(path: Path) -> list[Rule]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read rules: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a mapping with a 'rules' list")
    return [_rule(raw, path.name) for raw in data["rules"]]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    target: str

    def of_kind(self, *kinds: str) -> list[Rule]:
        return [r for r in self.rules if r.kind in kinds]

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @functools.cached_property
    def version(self) -> str:
        """A content hash of the active rules: changes whenever any mapping changes."""
        digest = hashlib.sha256()
        for rule in self.rules:
            digest.update(repr(rule).encode())
        return digest.hexdigest()[:12]


def load_ruleset(target: str, extra_files: tuple[Path, ...] = ()) -> RuleSet:
    """Built-in rules plus user rule files (same schema); a user rule may override a built-in one by ID."""
    rules: dict[str, Rule] = {}
    for path in sorted(data_dir("rules").glob("*.yaml")):
        for rule in load_rule_file(path):
            if rule.id in rules:
                raise RuleError(f"{path.name}: duplicate rule id {rule.id} (also in {rules[rule.id].origin})")
            rules[rule.id] = rule
    for path in extra_files:
        for rule in load_rule_file(path):
            rules[rule.id] = rule
    active = []
    for rule in rules.values():
        if not applies_to(rule, target):
            continue
        entries = tuple(e for e in rule.entries if applies_to(e, target))
        active.append(dataclasses.replace(rule, entries=entries))
    return RuleSet(rules=tuple(sorted(active, key=lambda r: r.id)), target=target)
