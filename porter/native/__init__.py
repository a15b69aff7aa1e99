"""The C/C++/CUDA frontend, with the Python frontend's contract: a pure function of (bytes, rule set) to new bytes
and findings. One tree-sitter parse; one pass per native rule kind proposes byte-range edits; the edits are
applied from the end of the buffer backwards. A file that does not parse cleanly is copied unchanged and
reported, never half-rewritten. What is still CUDA after the rewrite is listed by the inventory (NAT002), and
CUDA sources go to the kernel generator when it is installed (`porter.kernels`)."""

from __future__ import annotations

import functools
import re
from typing import Any

from porter import kinds
from porter.findings import FileResult, Finding, Outcome, Status, entry_finding
from porter.native import macros
from porter.native.edits import Edit, render
from porter.native.inventory import KERNEL_KEYWORD, inventory
from porter.native.passes import PASSES, Hit, Nodes, Shape
from porter.native.syntax import CUDA_SUFFIXES, Locator, error_nodes, parse, parser
from porter.ruleset import Rule, RuleSet
from porter.lossless_io import looks_binary

NATIVE_KINDS = kinds.reading("native")

__all__ = ["NATIVE_KINDS", "inventory", "port_native"]


@functools.lru_cache(maxsize=8)
def _trigger(ruleset: RuleSet) -> re.Pattern[bytes]:
    """Words every file some native rule applies to must contain, derived from the rule data."""
    words = set()
    for rule in ruleset.of_kind(*PASSES):
        for entry in rule.entries:
            name = Shape.parse(entry.pattern).name if rule.kind == "cpp_call" else entry.pattern.rstrip("*")
            segments = [name] if rule.kind == "cpp_include" else [p for p in name.split("::") if p]
            words.add(re.escape(segments[-1]))
    for rule in ruleset.of_kind("native_inventory"):
        words |= {_scoped_flags(value.lstrip("^")) for value in rule.contexts.values()}
    return re.compile(b"|".join(sorted({w.encode() for w in words if w} | {KERNEL_KEYWORD})))


def _scoped_flags(regex: str) -> str:
    """`(?i)x` -> `(?i:x)`, so that regexes with global flags can be joined."""
    flags = re.match(r"\(\?([aiLmsux]+)\)", regex)
    return f"(?{flags.group(1)}:{regex[flags.end():]})" if flags else f"(?:{regex})"


def _hits(data: bytes, root, rules: list[Rule]) -> list[Hit]:
    tree = Nodes.of(root)
    return [hit for rule in rules for hit in PASSES[rule.kind](data, tree, rule)]


def _macro_hits(data: bytes, root, rules: list[Rule], trigger: re.Pattern[bytes]) -> tuple[list[Hit], list]:
    """Hits inside `#define` bodies, and the bodies that mention a rule's word but do not parse."""
    hits, unparsed = [], []
    for body in macros.bodies(root):
        if not trigger.search(data, body.start_byte, body.end_byte):
            continue
        wrapped, delta = macros.wrap(data, body)
        tree = parser("cuda").parse(wrapped)
        if tree.root_node.has_error:
            unparsed.append(body)
            continue
        hits += [hit.shifted(delta) for hit in _hits(wrapped, tree.root_node, rules)]
    return hits, unparsed


def _finding(hit: Hit, data: bytes, edits: list[Edit], locate: Locator) -> Finding:
    span = locate.span(hit.start, hit.end)
    rule, entry = hit.rule, hit.entry
    source = data[hit.start : hit.end].decode(errors="replace")
    if entry is None:
        return Finding(rule.id, rule.category, Status.REVIEW,
                       f"`{hit.original}` is called in a shape no entry of this rule covers: port the call by hand",
                       span, source)
    replacement = None if hit.edit is None else render(data, edits, hit.start, hit.end).decode(errors="replace")
    return entry_finding(rule, entry, span, source, replacement)


def _residual(data: bytes, relpath: str, ruleset: RuleSet, claimed: set[str]) -> list[Finding]:
    return [f for rule in ruleset.of_kind("native_inventory") for f in inventory(data, rule, relpath)
            if f.original not in claimed and _included_path(f.original) not in claimed]


def _included_path(text: str) -> str:
    """`#include <a/b.h>` -> `a/b.h` (how an include rule names what it reported)."""
    return text.removeprefix("#include").strip().strip('<>"') if text.startswith("#include") else text


def _line_range(data: bytes, node) -> tuple[int, int]:
    """The whole lines a parse error spans: where tree-sitter gave up, its recovery may have misread them."""
    start = data.rfind(b"\n", 0, node.start_byte) + 1
    end = data.find(b"\n", max(node.end_byte, node.start_byte + 1) - 1)
    return start, len(data) if end < 0 else end


def _overlaps(hits: list[Hit], start: int, end: int) -> bool:
    return any(hit.start < end and start < hit.end for hit in hits)


def _parse_error(ruleset: RuleSet, data: bytes, errors: list[tuple[int, int]], problem: str) -> Finding:
    from porter.engine import input_finding  # the engine imports this frontend

    locate = Locator(data)
    first = locate.span(*errors[0])
    detail = f"{len(errors)} place(s) tree-sitter could not parse; first at line {first.line}"
    finding = input_finding(ruleset, problem, detail)
    finding.span = first
    return finding


def _unparsed_macro(ruleset: RuleSet, data: bytes, body, locate: Locator) -> Finding:
    from porter.engine import input_finding

    finding = input_finding(ruleset, "native-macro-unparsed")
    finding.span = locate.span(body.start_byte, body.end_byte)
    finding.original = data[body.start_byte : body.end_byte].decode(errors="replace").split("\n", 1)[0].strip()
    return finding


def _with_kernels(result: FileResult, relpath: str, data: bytes, ruleset: RuleSet) -> FileResult:
    """CUDA sources also go to the kernel generator, when porter.kernels is there."""
    if not relpath.lower().endswith(CUDA_SUFFIXES):
        return result
    try:
        from porter.kernels import port_kernels
    except ImportError as exc:  # not there yet, or without port_kernels; its own import errors still surface
        if exc.name != "porter.kernels":
            raise
        return result
    try:
        kernels = port_kernels(relpath, data, ruleset)
    except Exception as exc:  # noqa: BLE001 - one file porter cannot handle must never stop the run
        from porter.engine import input_finding

        result.findings.append(input_finding(ruleset, "internal-error", f"kernels: {type(exc).__name__}: {exc}"[:300]))
        result.porter_failed = True
        return result
    result.findings.extend(kernels.findings)
    result.generated.update(kernels.generated)
    if result.outcome is Outcome.UNCHANGED and kernels.findings:
        result.outcome = Outcome.FLAGGED
    return result


def port_native(relpath: str, data: bytes, ruleset: RuleSet, context: Any = None) -> FileResult:
    """Port one C/C++/CUDA file. `context` is the engine's per-run context; nothing here needs it yet."""
    if looks_binary(data):
        return FileResult(relpath, "native", Outcome.COPIED)
    trigger = _trigger(ruleset)
    if not trigger.search(data):
        return _with_kernels(FileResult(relpath, "native", Outcome.UNCHANGED), relpath, data, ruleset)
    tree = parse(data, relpath)
    rules = ruleset.of_kind(*PASSES)
    hits = _hits(data, tree.root_node, rules)
    errors = [_line_range(data, node) for node in error_nodes(tree.root_node)]
    if any(trigger.search(data, start, end) or _overlaps(hits, start, end) for start, end in errors):
        findings = [_parse_error(ruleset, data, errors, "native-parse-error"),
                    *_residual(data, relpath, ruleset, set())]
        result = FileResult(relpath, "native", Outcome.ERROR, findings, findings[0].message)
        return _with_kernels(result, relpath, data, ruleset)
    macro_hits, unparsed = _macro_hits(data, tree.root_node, rules, trigger)
    hits += macro_hits
    locate = Locator(data)
    edits: list[Edit] = [hit.edit for hit in hits if hit.edit is not None]
    findings = [_finding(hit, data, edits, locate) for hit in hits]
    new = render(data, edits) if edits else data
    findings += _residual(new, relpath, ruleset, {hit.original for hit in hits})
    findings += [_unparsed_macro(ruleset, data, body, locate) for body in unparsed]
    if errors:  # none of them touches anything a rule rewrites: the rest of the file is ported whole
        findings.append(_parse_error(ruleset, data, errors, "native-parse-tolerated"))
    findings.sort(key=lambda f: (f.span.line, f.span.column) if f.span else (0, 0))
    if new != data:
        result = FileResult(relpath, "native", Outcome.CONVERTED, findings, new_bytes=new)
    else:
        result = FileResult(relpath, "native", Outcome.FLAGGED if findings else Outcome.UNCHANGED, findings)
    return _with_kernels(result, relpath, data, ruleset)
