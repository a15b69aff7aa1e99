"""Multi-backend safety: after every mapping rule proposed its edits, policies veto the ones that would change
behaviour in code that already chooses between backends. A veto removes the edits inside a region and their
"converted" findings, and puts one `review` finding naming the region in their place.

Each policy is a rule kind (rules/backends.yaml); the backends they recognise are the rules' `markers` data.
"""

from __future__ import annotations

from dataclasses import dataclass

from porter.python.backends import Markers
from porter.python.safety.policies import POLICIES
from porter.python.safety.veto import Safety
from porter.python.safety.structure import walk

__all__ = ["ModuleContext", "apply_safety"]


@dataclass(frozen=True)
class ModuleContext:
    relpath: str = ""
    repo_backends: frozenset[str] = frozenset()  # other backends the repository names anywhere (see repo_scan)


def apply_safety(wrapper, source: str, proposals, ruleset, context: ModuleContext) -> None:
    rules = {rule.kind: rule for rule in ruleset.of_kind(*POLICIES)}
    if not rules:
        return
    markers = Markers.from_data(next(iter(rules.values())).contexts["markers"])
    safety = Safety(walk(wrapper, markers), proposals, markers, ruleset, context, source.splitlines())
    for kind, policy in POLICIES.items():
        if kind in rules:
            policy(safety, rules[kind])
