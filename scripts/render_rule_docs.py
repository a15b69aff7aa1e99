"""Regenerate docs/rules/ from the rule data: `python scripts/render_rule_docs.py` (a test checks it is current)."""

from pathlib import Path

from porter.docs import write_rule_pages
from porter.ruleset import load_ruleset
from porter.surface import available_versions

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"

if __name__ == "__main__":
    write_rule_pages(list(load_ruleset(available_versions("torch_npu")[-1]).rules), DOCS)
    print(f"wrote {DOCS}")
