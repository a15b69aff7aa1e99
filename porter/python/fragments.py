"""The advice of a module that gets its other findings from the stdlib tree (porter.python.report_only): a
libcst pass over the top-level definitions that use an advice API, not over the module.

Advice rules (an SDPA call, attention written out) need libcst's view of a call and of the statements before it
in its block, but only there, and what they say never changes the code. Each top-level definition that holds a
use of one is parsed alone, placed on its own lines (the lines before it left blank, so positions are the
module's), and the rule kinds `fusion` and `call_transform` run over it as they would over the module; functions
are numbered from those before it, so the import table answers names as in the module. The answer is the same as
the module's pass only for what stays inside one definition: a detector that reads across definitions (a `+`
site, which reads a function of the module) is not an advice one, and a question only libcst's scope analysis
can answer about the module makes the whole module go to libcst (`NeedsModule`).
"""

from __future__ import annotations

import ast

from libcst.metadata import MetadataWrapper

from porter.findings import Finding, Span
from porter.python.ast_nodes import first_line
from porter.python.base import CallIndex, ModuleNames, Proposals, parse_unchecked
from porter.python.positions import resolve_positions
from porter.python.visitors import rule_visitors
from porter.python.walk import read_only_visits, visit_batched
from porter.ruleset import RuleSet

KINDS = ("fusion", "call_transform")


class NeedsModule(Exception):
    """The definitions alone do not decide it: port the module with libcst."""


def _needs_module(*_args) -> None:
    raise NeedsModule


def advice(lines: list[str], definitions: list[ast.stmt], functions_before: list[int], ruleset: RuleSet,
           names: ModuleNames, unread: frozenset[str], local_modules: frozenset[str]) -> list[tuple[Finding, Span]]:
    """(finding, the span it covers for the rules after it) for each finding `KINDS` record in `definitions`,
    top-level compound statements of the module whose `lines` are given, `functions_before` each the number of
    functions defined before it. Raises NeedsModule where the answer could differ from the module's pass."""
    found = []
    with read_only_visits():
        for definition, before in zip(definitions, functions_before):
            found += _advice(lines, definition, before, ruleset, names, unread, local_modules)
    return found


def _advice(lines, definition, functions_before, ruleset, names, unread, local_modules):
    first = first_line(definition)
    text = "\n" * (first - 1) + "\n".join(lines[first - 1:definition.end_lineno]) + "\n"
    wrapper = MetadataWrapper(parse_unchecked(text), unsafe_skip_copy=True)
    resolve_positions(wrapper)
    proposals = Proposals.of_module(len(lines), names, unread, local_modules, _needs_module)
    visit_batched(wrapper, [CallIndex(proposals, functions_before), *rule_visitors(ruleset, proposals, KINDS)])
    if proposals.edits:
        raise NeedsModule  # not advice after all
    return list(zip(proposals.findings, proposals.covered.spans))  # RuleVisitor.record covers one span a finding
