"""Markdown view of the report, for a pull-request description or a reviewer's first read."""

from __future__ import annotations

from collections import defaultdict

from porter.findings import Report, Status
from porter.templating import render

MANUAL = (Status.REVIEW, Status.UNSUPPORTED, Status.UNKNOWN)


def render_markdown(report: Report) -> str:
    manual, converted = defaultdict(list), defaultdict(list)
    for result in sorted(report.files, key=lambda r: r.path):
        for finding in result.findings:
            (manual if finding.status in MANUAL else converted)[result.path].append(finding)
    per_file = [
        (r.path, r.outcome.value, {s.value: sum(f.status is s for f in r.findings) for s in Status})
        for r in sorted(report.files, key=lambda r: r.path)
        if r.findings
    ]
    return render(
        "report.md.j2",
        report=report,
        totals=report.totals(),
        manual=dict(manual),
        converted=dict(converted),
        errors=[r for r in sorted(report.files, key=lambda r: r.path) if r.error],
        per_file=per_file,
        statuses=[s.value for s in Status],
    )
