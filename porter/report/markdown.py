"""Markdown view of the report, for a pull-request description or a reviewer's first read: what to do first,
then findings grouped by rule (identical ones folded), low-priority names last."""

from __future__ import annotations

import html

from porter.findings import Report
from porter.report.review import effort_text, review
from porter.report.rules_info import builtin_rules
from porter.templating import render

TOP_ACTIONS = 15
PLACES_SHOWN = 8


def render_markdown(report: Report) -> str:
    rev = review(report)
    return render(
        "report.md.j2",
        report=report,
        totals=report.totals(),
        review=rev,
        effort=effort_text(rev),
        rules=builtin_rules(report.target),
        top=rev.todo[:TOP_ACTIONS],
        places_shown=PLACES_SHOWN,
        errors=[r for r in sorted(report.files, key=lambda r: r.path) if r.error],
        backend_support=getattr(report, "backend_support", None),
        esc=lambda text: html.escape(str(text), quote=False),  # prose outside code spans: `<x.h>` is not a tag
    )
