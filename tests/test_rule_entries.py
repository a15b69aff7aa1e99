"""One test per mapping entry of every Python rule, built from the rule data: an entry whose rewrite breaks fails
its own test. Auto entries must be rewritten to their replacement (and the result must parse); review and
unsupported entries must be reported with that status, rewritten to their replacement when they name one and
left as they are when they do not."""

import ast

import pytest

from porter.findings import STATUS_OF_ENTRY, Span, Status, entry_finding
from porter.python import port_python
from porter.ruleset import Entry, Rule, load_ruleset
from tests.rule_entry_uses import ENTRY_KINDS, KNOWN_GAPS, entry_use

RULES = load_ruleset("2.13.0").rules
CASES = [pytest.param(rule, entry, id=f"{rule.id}:{entry.pattern}", marks=[
    pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[entry.pattern])] if entry.pattern in KNOWN_GAPS else [])
         for rule in RULES if rule.kind in ENTRY_KINDS for entry in rule.entries]


@pytest.mark.parametrize(("rule", "entry"), CASES)
def test_entry_does_what_its_status_says(rule, entry, ruleset):
    source, use, expected = entry_use(rule, entry)
    new, findings = port_python(source, ruleset)
    produced = new if new is not None else source
    ast.parse(produced)
    mine = [f for f in findings if f.rule_id == rule.id and f.original and (f.original in use or use in f.original)]
    assert mine, f"{rule.id} reported nothing for {use!r}: {[(f.rule_id, f.original) for f in findings]}"
    if source == rule.example_before:
        assert mine[0].status == STATUS_OF_ENTRY[entry.status] and produced == expected
        return
    unchanged, lines = f"value = {use}", produced.splitlines()
    rewritten = any(line == expected or (expected.endswith("(") and line.startswith(expected)) for line in lines)
    if rule.kind == "call_transform" and mine[0].status == Status.REVIEW:
        # a transform flags a call whose argument layout it must assume, or holds back one it cannot map
        assert mine[0].message and (rewritten or unchanged in lines), produced
        return
    assert mine[0].status == STATUS_OF_ENTRY[entry.status]
    if entry.replacement is not None:  # a review entry with a replacement is rewritten and flagged
        assert rewritten, f"{use!r} became:\n{produced}"
    else:
        assert unchanged in lines, f"an entry without a replacement was rewritten:\n{produced}"


@pytest.mark.parametrize(("message", "detail", "expected"), [
    ("Use the ACL call.", "", "Use the ACL call."),
    ("Use the ACL call.", "line 3", "Use the ACL call. (line 3)"),
    ("", "line 3", "the rule's summary (line 3)"),
])
def test_a_finding_from_an_entry_carries_its_status_and_message(message, detail, expected):
    rule = Rule("USR001", "mine", "rename", "device-api", "the rule's summary", "d", ())
    entry = Entry("cudaX", status="review", replacement="aclX", message=message)
    finding = entry_finding(rule, entry, Span(1, 2, 1, 6), "cudaX", "aclX", detail=detail)
    assert (finding.rule_id, finding.category, finding.status, finding.message) == \
        ("USR001", "device-api", Status.REVIEW, expected)
    assert (finding.span, finding.original, finding.replacement) == (Span(1, 2, 1, 6), "cudaX", "aclX")
