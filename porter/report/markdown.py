"""Markdown view of the report, for a pull-request description or a reviewer's first read: what to do first,
then findings grouped by rule (identical ones folded), low-priority names last."""

from __future__ import annotations

import html

from porter.findings import Report
from porter.report.review import summary_context
from porter.templating import render

PLACES_SHOWN = 8


def render_markdown(report: Report) -> str:
    return render(
        "report.md.j2",
        **summary_context(report),
        places_shown=PLACES_SHOWN,
        errors=[r for r in sorted(report.files, key=lambda r: r.path) if r.error],
        esc=lambda text: html.escape(str(text), quote=False),  # prose outside code spans: `<x.h>` is not a tag
    )
