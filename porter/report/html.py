"""The HTML report: one self-contained file (inline CSS and script, no network) a reviewer opens in a browser.

Every piece of user content goes through jinja's autoescaping; the script only reads data attributes and sets
`hidden` and `textContent`, so file names or code can never become markup.
"""

from __future__ import annotations

import functools

import jinja2

from porter.findings import Report
from porter.report.review import TIER_NAMES, summary_context, tier
from porter.resources import data_dir


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, text) per line of a unified diff."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "add", "-": "del"}.get(line[:1], "ctx")
        lines.append((kind, line))
    return lines


def render_html(report: Report) -> str:
    files = sorted(report.files, key=lambda r: r.path)
    diffs = []
    for index, result in enumerate(files):
        if result.diff:
            lines = _diff_lines(result.diff)
            added, removed = (sum(kind == k for kind, _ in lines) for k in ("add", "del"))
            diffs.append((index, result.path, lines, added, removed))
    diff_anchor = {path: f"diff-{index}" for index, path, *_ in diffs}
    rows = [
        {"finding": finding, "path": result.path, "tier": TIER_NAMES[tier(finding)],
         "line": finding.span.line if finding.span else "", "diff": diff_anchor.get(result.path)}
        for result in files for finding in result.findings
    ]
    return _environment().get_template("report.html.j2").render(
        **summary_context(report),
        rows=rows,
        statuses=sorted({row["finding"].status.value for row in rows}),
        categories=sorted({row["finding"].category for row in rows}),
        rule_ids=sorted({row["finding"].rule_id for row in rows}),
        tiers=[name for name in TIER_NAMES.values() if any(row["tier"] == name for row in rows)],
        diffs=diffs,
        errors=[r for r in files if r.error],
    )
