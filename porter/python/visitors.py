"""The rule kinds the libcst frontend runs, each as a visitor, in the order of its batched pass."""

from __future__ import annotations

from porter.python.calls import CallTransformVisitor
from porter.python.envvars import EnvVarVisitor
from porter.python.fusion import FusionVisitor
from porter.python.imports import ImportVisitor
from porter.python.methods import MethodVisitor
from porter.python.renames import RenameVisitor
from porter.python.residual import ResidualVisitor
from porter.python.strings import ContextStringVisitor
from porter.ruleset import RuleSet

# Order matters within the batch: a node's residual check must see what the other kinds already claimed.
VISITOR_FOR_KIND = {
    "rename": RenameVisitor,
    "context_string": ContextStringVisitor,
    "method": MethodVisitor,
    "import": ImportVisitor,
    "env_var": EnvVarVisitor,
    "fusion": FusionVisitor,  # before call_transform: a fused product takes its factors' advice with it
    "call_transform": CallTransformVisitor,
    "residual": ResidualVisitor,
}


def rule_visitors(ruleset: RuleSet, proposals, kinds: tuple[str, ...] = tuple(VISITOR_FOR_KIND)) -> list:
    """The visitors of `kinds` (all by default) for the rules of `ruleset`, in batch order."""
    visitors = []
    for kind, visitor in VISITOR_FOR_KIND.items():
        if kind not in kinds:
            continue
        rules = sorted(ruleset.of_kind(kind), key=lambda r: r.opt_in is None)  # a rewrite asked for goes before
        # the advice on the same code, which then sees it replaced
        if visitor.ALL_RULES:
            visitors += [visitor(rules, proposals)] if rules else []
        else:
            visitors += [visitor(rule, proposals) for rule in rules]
    return visitors
