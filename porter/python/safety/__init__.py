"""Multi-backend safety: after every mapping rule proposed its edits, policies veto the ones that would change
behaviour in code that already chooses between backends. A veto removes the edits inside a region and their
"converted" findings, and puts one `review` finding naming the region in their place.

Each policy is a rule kind (rules/backends.yaml); the backends they recognise are the rules' `markers` data.
"""

from __future__ import annotations

from dataclasses import dataclass

from porter.python.backends import markers_of
from porter.python.safety.policies import POLICIES
from porter.python.safety.veto import Safety
from porter.python.safety.structure import StructureWalk

__all__ = ["ModuleContext", "apply_safety", "structure_walk"]


@dataclass(frozen=True)
class ModuleContext:
    relpath: str = ""
    repo_backends: frozenset[str] = frozenset()  # other backends the repository names anywhere (porter.backend_support)


def structure_walk(ruleset, import_bound: frozenset[str] | None) -> StructureWalk | None:
    """The visitor to add to the frontend's batched pass, or None when no safety policy is active."""
    markers = markers_of(ruleset)
    return StructureWalk(markers, import_bound) if markers is not None else None


def apply_safety(walk: StructureWalk, source: str, proposals, ruleset, context: ModuleContext) -> None:
    """Run the active policies over the proposals, in the order of POLICIES."""
    rules = {rule.kind: rule for rule in ruleset.of_kind(*POLICIES)}
    safety = Safety(walk.found, proposals, walk.markers, ruleset, context, source.splitlines())
    for kind, policy in POLICIES.items():
        if kind in rules:
            policy(safety, rules[kind])
    safety.settle()
