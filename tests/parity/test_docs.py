"""docs/parity.md shows every threshold exactly as the judge uses it."""

import re

from porter.parity.standards import markdown_table
from tests.parity.parity_helpers import REPO


def test_docs_standards_table_is_current():
    text = (REPO / "docs" / "parity.md").read_text()
    table = re.search(r"<!-- standards-table:[^\n]*-->\n(.*?)<!-- /standards-table -->", text, re.S).group(1)
    assert table == markdown_table()
