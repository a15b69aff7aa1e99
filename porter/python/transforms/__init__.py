"""Named call transforms: rule data (kind `call_transform`) names a function here, one module per library family.

A transform receives the call's arguments bound to the library's signature (`args.CallArgs`) and answers a
`Rewrite` (new source for the call) or a `Refuse` (leave it, report why). It never guesses: an argument whose
meaning cannot be read from the source makes it refuse.
"""

from __future__ import annotations

from porter.python.transforms import apex, attention, fusion, profiler
from porter.ruleset import Rule, RuleError

_FAMILIES = {"attention": attention, "apex": apex, "fusion": fusion, "profiler": profiler}
TRANSFORMS = {f"{family}.{fn.__name__}": fn for family, module in _FAMILIES.items() for fn in module.TRANSFORMS}


def lookup(name: str):
    """The transform a rule entry names (`family.function`); KeyError with the known names when there is none."""
    if name not in TRANSFORMS:
        raise KeyError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
    return TRANSFORMS[name]


def transforms_of(rule: Rule) -> dict:
    """Entry pattern -> the transform the entry names; a RuleError naming the rule when one names none."""
    try:
        return {entry.pattern: lookup(entry.transform) for entry in rule.entries}
    except KeyError as error:
        raise RuleError(f"{rule.origin}: rule {rule.id}: {error.args[0]}") from None
