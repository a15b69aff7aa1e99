"""The state the safety policies share: the module's structure, the proposals, and how a region is vetoed."""

from __future__ import annotations

import functools

import libcst as cst

from porter.findings import Finding, Span, Status
from porter.python.backends import Markers
from porter.python.safety.structure import Structure, inside
from porter.python.span_index import Containers, SpanIndex


class Safety:
    def __init__(self, structure: Structure, proposals, markers: Markers, ruleset, context, lines: list[str]) -> None:
        self.structure = structure
        self.proposals = proposals
        self.markers = markers
        self.ruleset = ruleset
        self.context = context
        self.lines = lines
        self.vetoed = Containers(len(lines))
        self._edits = SpanIndex((e.span, e) for e in proposals.edits if e.span is not None)
        self._findings = SpanIndex((f.span, f) for f in proposals.findings if f.span is not None)
        self._tokens = SpanIndex((span, (span, text, is_string)) for span, text, is_string in structure.source_tokens)
        self.literals = SpanIndex((literal.span, literal) for literal in structure.literals)
        # a veto only marks what it drops; `settle` removes it from the proposals once, after every policy ran
        self._withheld: set[int] = set()
        self._dropped: set[int] = set()
        self._explanations: list[Finding] = []

    # --- what the code names -------------------------------------------------------------------------------------

    def backends_in(self, region: Span) -> set[str]:
        """Backends besides the source that the identifiers and string values in `region` name (conditions only)."""
        return set().union(*self._backend_tokens.inside(region))

    @functools.cached_property
    def _backend_tokens(self) -> SpanIndex:
        source = {self.markers.source.name}
        strings = [(lit.span, frozenset(self.markers.value_backends(lit.value) - source))
                   for lit in self.structure.literals if isinstance(lit.node, cst.SimpleString)]
        return SpanIndex([*self.structure.backend_names, *((span, named) for span, named in strings if named)])

    @functools.cached_property
    def module_backends(self) -> frozenset[str]:
        """Other backends the module names anywhere (identifiers or string values)."""
        named = set()
        for name in self.structure.names:
            named |= self.markers.name_backends(name, dispatch_only=True)
        for literal in self.structure.literals:
            named |= self.markers.value_backends(literal.value)
        return frozenset(named - {self.markers.source.name})

    def supports_target(self) -> bool:
        """Whether the repository (or this module) already names the backend porter ports to."""
        return self.markers.target in self.context.repo_backends | self.module_backends

    def multi_backend(self) -> bool:
        return bool(self.context.repo_backends) or bool(self.module_backends)

    # --- edits --------------------------------------------------------------------------------------------------

    def edits_inside(self, region: Span) -> list:
        return [e for e in self._edits.inside(region) if id(e) not in self._withheld]

    def is_vetoed(self, span: Span) -> bool:
        return self.vetoed.contains(span)

    def leftovers(self, region: Span, strings_only: bool = False) -> list[tuple[Span, str]]:
        """CUDA-specific tokens in `region` that no remaining edit rewrites."""
        edits = self.edits_inside(region)
        tokens = [(span, text) for span, text, is_string in self._tokens.inside(region) if is_string or not strings_only]
        tokens += [(span, name) for name in sorted(self.flagged_import_names) if not strings_only
                   for span in self.structure.name_uses.get(name, ()) if inside(span, region)]
        return [(span, text) for span, text in tokens if not any(inside(span, e.span) for e in edits)]

    @functools.cached_property
    def flagged_import_names(self) -> set[str]:
        """Names bound by imports of CUDA-only libraries (an `import` rule reported them, nothing converted them)."""
        import_rules = {r.id for r in self.ruleset.of_kind("import")}
        flagged = [f.span for f in self.proposals.findings if f.rule_id in import_rules
                   and f.status is not Status.CONVERTED and f.span and id(f) not in self._dropped]
        return {name for name, span in self.structure.import_aliases
                if any(inside(span, f) or inside(f, span) for f in flagged)}

    def first_line(self, span: Span) -> str:
        return self.lines[span.line - 1].strip() if 0 < span.line <= len(self.lines) else ""

    def veto(self, region: Span, rule, message: str, drop_findings: bool = False, edits=None,
             announce: bool = False) -> bool:
        """Drop the edits inside `region` (or the given ones) and their findings; one finding explains why.

        `drop_findings`: also drop every other finding inside (code of another backend needs no CUDA review).
        `announce`: explain the region even when nothing was dropped, if it holds CUDA-specific code.
        Returns whether anything was vetoed."""
        removed = edits if edits is not None else self.edits_inside(region)
        dead = {id(e.finding) for e in removed if e.finding is not None}
        if drop_findings:
            inside_region = [*self._findings.inside(region), *(f for f in self._explanations if inside(f.span, region))]
            dead |= {id(f) for f in inside_region if id(f) not in self._dropped}
        if not removed and not dead and not (announce and self._tokens.inside(region)):
            return False
        self._withheld |= {id(e) for e in removed}
        self._dropped |= dead
        self.vetoed.add(region)
        suffix = f" ({len(removed)} rewrite{'s' * (len(removed) != 1)} withheld)" if removed else ""
        explanation = Finding(rule.id, rule.category, Status.REVIEW, message + suffix, span=region,
                              original=self.first_line(region))
        self._explanations.append(explanation)
        self.proposals.findings.append(explanation)
        return True

    def settle(self) -> None:
        """Remove what the vetoes withheld and dropped from the proposals."""
        self.proposals.edits = [e for e in self.proposals.edits if id(e) not in self._withheld]
        self.proposals.findings = [f for f in self.proposals.findings if id(f) not in self._dropped]
