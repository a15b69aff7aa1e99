"""Loading and validating rules: the mappings themselves live as YAML data in the top-level rules/ folder."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from porter import kinds
from porter.resources import data_dir
from porter.surface import release

KINDS = kinds.NAMES  # the schema's `kind` enum


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
    transform: str | None = None  # call_transform kind: the function in porter.python.transforms that rebuilds the call
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
    opt_in: str | None = None  # runs only when the user enables this option (`porter port --fuse`)


def applies_to(item: Rule | Entry, target: str) -> bool:
    key = release(target)
    if item.since and key < release(item.since):
        return False
    return not (item.until and key >= release(item.until))


def _entry(raw: dict) -> Entry:
    return Entry(
        pattern=str(raw["pattern"]),
        status=raw.get("status", "auto"),
        replacement=raw.get("replacement"),
        message=str(raw.get("message", "")).strip(),
        insert_args=tuple(raw.get("insert_args", ())),
        positional_names=tuple(raw.get("positional_names", ())),
        transform=raw.get("transform"),
        since=raw.get("since"),
        until=raw.get("until"),
    )


def _rule(raw: dict, origin: str) -> Rule:
    """A rule from data the schema has validated."""
    entries = tuple(_entry(e) for e in raw.get("entries", ()))
    if len({e.pattern for e in entries}) != len(entries):
        raise RuleError(f"{origin}: rule {raw['id']}: duplicate entry patterns")
    example = raw.get("example") or {}
    return Rule(
        id=raw["id"],
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
        opt_in=raw.get("opt_in"),
    )


RULE_KEYS = frozenset({"id", "name", "kind", "category", "summary", "doc", "entries", "example", "contexts", "since",
                       "until", "adds_import", "opt_in"})  # the keys `_rule` reads


def entry_keys() -> frozenset[str]:
    """The keys an entry may have: the fields of `Entry`."""
    return frozenset(f.name for f in dataclasses.fields(Entry))


def shipped_schema() -> dict:
    """rules/schema.json as shipped (for editors): it names no rule kind."""
    return json.loads((data_dir("rules") / "schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    """The shipped schema, completed with what this porter knows at run time: the rule kinds and any key the
    loader reads that the schema does not describe yet (tests/test_rule_schema.py keeps the two in step)."""
    schema = shipped_schema()
    rule, entry = schema["definitions"]["rule"]["properties"], schema["definitions"]["entry"]["properties"]
    rule["kind"]["enum"] = list(KINDS)
    rule.update({key: {} for key in RULE_KEYS - rule.keys()})
    entry.update({key: {} for key in entry_keys() - entry.keys()})
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _location(data: dict, path: list) -> str:
    """`rule PY101, entry 'torch.cuda.x', contexts` for a JSON path into a rule file."""
    words, node = [], data
    for parent, key in zip([None, *path], path):
        node = node[key]
        if parent == "rules" and isinstance(node, dict):
            words.append(f"rule {node.get('id', f'#{key + 1}')}")
        elif parent == "entries" and isinstance(node, dict):
            words.append(f"entry {node['pattern']!r}" if "pattern" in node else f"entry #{key + 1}")
        elif key not in ("rules", "entries") and not isinstance(key, int):
            words.append(str(key))
    return ", ".join(words)


def _schema_error(data: dict, path: Path) -> RuleError | None:
    errors = list(_validator().iter_errors(data))
    unknown_keys = [e for e in errors if e.validator == "additionalProperties"]  # a misspelling explains the rest
    error = unknown_keys[0] if unknown_keys else jsonschema.exceptions.best_match(errors)
    if error is None:
        return None
    where = _location(data, list(error.absolute_path))
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        unknown = sorted(str(key) for key in error.instance if key not in known)
        close = difflib.get_close_matches(unknown[0], list(known), n=1)
        message = f"unknown key {unknown[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    else:
        message = error.message
    return RuleError(f"{path}: {where + ': ' if where else ''}{message} (see the schema in docs/rule-schema.md)")


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader is ten times faster


def load_rule_file(path: Path) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rules: {exc}") from exc
    return list(_rules_of_text(text, path))


@functools.lru_cache(maxsize=256)  # a run loads the rule set more than once; validating it costs most
def _rules_of_text(text: str, path: Path) -> tuple[Rule, ...]:
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: cannot read rules: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a mapping with a 'rules' list")
    error = _schema_error(data, path)
    if error is not None:
        raise error
    return tuple(_rule(raw, path.name) for raw in data["rules"])


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    target: str
    enabled: frozenset[str] = frozenset()  # the opt-in options the user turned on

    def of_kind(self, *kinds: str) -> list[Rule]:
        """The active rules of these kinds: an opt-in rule only when its option is enabled."""
        return [r for r in self.rules if r.kind in kinds and (r.opt_in is None or r.opt_in in self.enabled)]

    def enabling(self, *options: str) -> "RuleSet":
        return dataclasses.replace(self, enabled=self.enabled | frozenset(options))

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @functools.cached_property
    def content_hash(self) -> str:
        """A content hash of the active rules: changes whenever any mapping changes."""
        digest = hashlib.sha256(repr(sorted(self.enabled)).encode())
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
