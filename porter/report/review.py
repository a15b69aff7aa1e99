"""What a reviewer reads first: findings grouped into actions, identical ones folded, noise last.

Every view (Markdown, HTML, console) renders this one digest of a Report, so they agree on what matters.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field

from porter.findings import Finding, Report, Status

# Tiers, most urgent first. LOW is the repository's own CUDA-named identifiers and strings: worth a glance only.
UNSUPPORTED, REVIEW, UNMAPPED, CONVERTED, LOW = range(5)
TIER_NAMES = {UNSUPPORTED: "unsupported", REVIEW: "review", UNMAPPED: "unknown API", CONVERTED: "converted",
              LOW: "low priority"}
# Minutes of human work per distinct item, by tier: a stated heuristic, printed with every estimate.
MINUTES = {UNSUPPORTED: 60, REVIEW: 15, UNMAPPED: 10, CONVERTED: 0.5, LOW: 1}

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_STRING = re.compile(r"(?i)[rbuf]{0,2}(['\"]).*")
_QUOTED = re.compile(r"`[^`]*`|\"[^\"]*\"|'[^']*'")


def tier(finding: Finding) -> int:
    if finding.status is Status.UNSUPPORTED:
        return UNSUPPORTED
    if finding.status is Status.REVIEW:
        return REVIEW
    if finding.status is Status.CONVERTED:
        return CONVERTED
    code = finding.original.strip()
    if _IDENTIFIER.fullmatch(code) or _STRING.fullmatch(code):
        return LOW
    return UNMAPPED


def is_actionable(finding: Finding) -> bool:
    """What a reviewer must act on: unsupported, review and unmapped APIs (not converted, not low priority)."""
    return tier(finding) in (UNSUPPORTED, REVIEW, UNMAPPED)


def _without_trailing_detail(message: str) -> str:
    """Drop a final parenthesised detail, nested parentheses included: `… (`x` used 2 time(s))`."""
    text = message.rstrip()
    if not text.endswith(")"):
        return text
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[:index].rstrip()
    return text


def message_kind(message: str) -> str:
    """The message without its per-finding details (quoted code, trailing counts): the kind of action."""
    return _QUOTED.sub("…", _without_trailing_detail(message)).strip()


def headline(message: str) -> str:
    cut = re.split(r"(?<=[^.])[:;]\s|\.\s", message, maxsplit=1)[0].rstrip(".")
    return cut if len(cut) <= 90 else cut[:89].rstrip() + "…"


@dataclass
class Item:
    """Identical findings (same rule, status, code and message), wherever they occur."""

    finding: Finding
    places: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return sorted({path for path, _ in self.places})


@dataclass
class Action:
    """Findings of one rule, status and kind of message: one line of the to-do list."""

    rule_id: str
    status: str
    tier: int
    kind: str
    items: list[Item] = field(default_factory=list)

    @property
    def title(self) -> str:
        messages = {item.finding.message for item in self.items}
        return headline(messages.pop() if len(messages) == 1 else self.kind)

    @functools.cached_property  # read once per item by `detail`: recomputing it made the report quadratic
    def advice(self) -> str | None:
        """What to do, when every finding of the action says the same apart from its trailing detail."""
        common = _without_trailing_detail(self.items[0].finding.message)
        return common if all(i.finding.message.startswith(common) for i in self.items) else None

    def detail(self, item: Item) -> str:
        """The part of an item's message that the action's advice and the item's code do not already say."""
        advice = self.advice
        if not advice:
            return item.finding.message
        rest = item.finding.message[len(advice):].strip().removeprefix("(").removesuffix(")")
        unsaid = re.sub(r"`([^`]*)`", lambda m: "" if m[1] in item.finding.original else m[0], rest)
        return rest if len(unsaid.split()) > 1 else ""  # `kernel `x`` beside `__global__ void x` says nothing new

    @functools.cached_property
    def has_details(self) -> bool:
        return any(self.detail(item) for item in self.items)

    @property
    def count(self) -> int:
        return sum(len(item.places) for item in self.items)

    @property
    def files(self) -> list[str]:
        return sorted({path for item in self.items for path, _ in item.places})

    @property
    def minutes(self) -> float:
        return MINUTES[self.tier] * len(self.items)


@dataclass
class RuleGroup:
    rule_id: str
    actions: list[Action]

    @property
    def count(self) -> int:
        return sum(a.count for a in self.actions)

    @property
    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for action in self.actions:
            counts[action.status] += action.count
        return dict(counts)


@dataclass
class Identifier:
    """A low-priority name or string and every file that uses it."""

    code: str
    rule_id: str
    files: list[str]


@dataclass
class Review:
    actions: list[Action]  # every action, most urgent first
    low: list[Identifier]
    files_with_findings: int
    parity: dict

    @property
    def todo(self) -> list[Action]:
        return [a for a in self.actions if a.tier in (UNSUPPORTED, REVIEW, UNMAPPED)]

    @property
    def done(self) -> list[Action]:
        return [a for a in self.actions if a.tier == CONVERTED]

    def by_rule(self, actions: list[Action]) -> list[RuleGroup]:
        groups: dict[str, list[Action]] = defaultdict(list)
        for action in actions:
            groups[action.rule_id].append(action)
        return sorted((RuleGroup(rule, acts) for rule, acts in groups.items()),
                      key=lambda g: (min(a.tier for a in g.actions), -g.count, g.rule_id))

    @property
    def effort_hours(self) -> float:
        low_minutes = MINUTES[LOW] * len(self.low)
        return (sum(a.minutes for a in self.actions) + low_minutes) / 60

    @property
    def todo_count(self) -> int:
        return sum(a.count for a in self.todo)

    @property
    def low_files(self) -> int:
        return len({path for ident in self.low for path in ident.files})

    @property
    def distinct_todo(self) -> int:
        return sum(len(a.items) for a in self.todo)


def parity_verdict(report: Report) -> dict:
    if report.parity is None:
        if report.parity_suite:
            return {"verdict": "not run", "text": f"suite generated in {report.parity_suite}: run `porter parity "
                                                  "record` on the reference machine, then `porter parity compare` "
                                                  "on the NPU"}
        return {"verdict": "none", "text": "no parity suite (analysis only, or ported with --no-parity)"}
    counts = {s: sum(case.status == s for case in report.parity) for s in ("pass", "fail", "error")}
    verdict = "pass" if counts["fail"] == counts["error"] == 0 else "fail"
    text = f"{len(report.parity)} cases: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors"
    return {"verdict": verdict, "text": text, **counts}


def review(report: Report) -> Review:
    actions: dict[tuple, Action] = {}
    items: dict[tuple, Item] = {}
    low: dict[tuple, set[str]] = defaultdict(set)
    touched = 0
    for result in sorted(report.files, key=lambda r: r.path):
        touched += bool(result.findings)
        for finding in result.findings:
            level = tier(finding)
            if level == LOW:
                low[(finding.original.strip(), finding.rule_id)].add(result.path)
                continue
            kind = message_kind(finding.message)
            action_key = (finding.rule_id, finding.status.value, kind)
            action = actions.setdefault(action_key, Action(finding.rule_id, finding.status.value, level, kind))
            item_key = (*action_key, finding.original, finding.replacement)
            if item_key not in items:
                items[item_key] = Item(finding)
                action.items.append(items[item_key])
            items[item_key].places.append((result.path, finding.span.line if finding.span else None))
    ordered = sorted(actions.values(), key=lambda a: (a.tier, -a.count, a.rule_id, a.kind))
    identifiers = sorted((Identifier(code, rule, sorted(files)) for (code, rule), files in low.items()),
                         key=lambda i: (-len(i.files), i.code))
    return Review(ordered, identifiers, touched, parity_verdict(report))


def effort_text(rev: Review) -> str:
    return (f"≈ {rev.effort_hours:.1f} person-hours (heuristic, per distinct item: "
            f"{MINUTES[UNSUPPORTED]} min unsupported, {MINUTES[REVIEW]} min review, {MINUTES[UNMAPPED]} min unmapped "
            f"API, {MINUTES[LOW]} min per CUDA-named identifier, {MINUTES[CONVERTED]} min to read a converted change)")


TOP_ACTIONS = 15  # rows of the "what to do first" table in every view


def summary_context(report: Report) -> dict:
    """What every rendered view opens with: totals, the review, the effort, the top actions, backend support."""
    from porter.report.rules_info import builtin_rules

    rev = review(report)
    return {"report": report, "totals": report.totals(), "review": rev, "effort": effort_text(rev),
            "rules": builtin_rules(report.target), "top": rev.todo[:TOP_ACTIONS],
            "backend_support": report.backend_support}
