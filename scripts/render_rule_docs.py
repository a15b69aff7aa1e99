"""Regenerate docs/rules/ from the rule data: `python scripts/render_rule_docs.py` (a test checks it is current)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the per-entry coverage is a fact of the test suite, which reports it

from porter.docs import write_rule_pages
from porter.ruleset import load_ruleset
from porter.surface import available_versions
from tests.rule_entry_uses import exercised_entries

DOCS = ROOT / "docs" / "rules"

if __name__ == "__main__":
    write_rule_pages(list(load_ruleset(available_versions("torch_npu")[-1]).rules), DOCS, exercised_entries)
    print(f"wrote {DOCS}")
