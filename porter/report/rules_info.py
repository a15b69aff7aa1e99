"""The rule data behind a report's rule IDs (names, summaries, docs), for views that describe the rules they cite."""

from __future__ import annotations

import functools

from porter.ruleset import Rule, RuleError, load_ruleset
from porter.surface import available_versions


@functools.cache
def builtin_rules(target: str) -> dict[str, Rule]:
    """The built-in rules for `target` (the newest supported when that version is unknown); {} if none load."""
    versions = available_versions("torch_npu")
    if not versions:
        return {}
    try:
        ruleset = load_ruleset(target if target in versions else versions[-1])
    except RuleError:
        return {}
    return {rule.id: rule for rule in ruleset.rules}
