"""The C++ rule kinds' fixtures and documented examples: `// ok:` lines stay byte-identical and unclaimed."""

from pathlib import Path

import pytest

from porter.native import port_native
from porter.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
RULES = [r for r in load_ruleset("2.13.0").rules if r.kind.startswith("cpp_")]


def _before(rule) -> Path:
    return next((ROOT / "fixtures" / "rules" / rule.id).glob("before.*"))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_ok_lines_are_left_alone(rule, ruleset):
    before = _before(rule)
    after = before.with_name("after" + before.suffix).read_text().splitlines()
    result = port_native(before.name, before.read_bytes(), ruleset)
    ok_lines = [(n, line) for n, line in enumerate(before.read_text().splitlines(), 1) if "// ok:" in line]
    assert ok_lines, f"{rule.id}'s fixture has no `// ok:` line"
    for number, line in ok_lines:
        assert line in after, f"an `// ok:` line changed: {line!r}"
        claimed = [f for f in result.findings if f.span and f.span.line == number and f.rule_id == rule.id]
        assert not claimed, f"line {number} was claimed by {rule.id}: {claimed}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_documented_example_is_what_porter_does(rule, ruleset):
    result = port_native("example.cpp", rule.example_before.encode(), ruleset)
    produced = result.new_bytes.decode() if result.new_bytes is not None else rule.example_before
    assert produced == rule.example_after
    assert rule.id in {f.rule_id for f in result.findings}
