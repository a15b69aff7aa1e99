"""Rule documentation is generated from the rule data and must be current in docs/rules/."""

from pathlib import Path

from porter.docs import catalogue, rule_page
from porter.ruleset import load_ruleset
from tests.rule_entry_uses import exercised_entries

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"
RULES = load_ruleset("2.13.0").rules


def test_committed_rule_pages_are_current():
    for rule in RULES:
        page = DOCS / f"{rule.id}.md"
        assert page.read_text() == rule_page(rule, exercised_entries(rule)), f"run scripts/render_rule_docs.py ({rule.id} changed)"
    assert (DOCS / "README.md").read_text() == catalogue(list(RULES))
    assert {p.stem for p in DOCS.glob("*.md")} - {"README"} == {r.id for r in RULES}


def test_every_mapping_row_appears_on_its_page():
    for rule in RULES:
        page = rule_page(rule)
        for entry in rule.entries:
            assert f"`{entry.pattern}`" in page.replace("\\|", "|")
