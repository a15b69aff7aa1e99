"""CSV views: the lists users of Huawei's msFmkTransplt know (change_list, unsupported_api, unknown_api, with
their columns), and porter's own findings.csv with every field."""

from __future__ import annotations

import csv
import io

from porter.findings import Finding, Report, Status
from porter.report.review import TIER_NAMES, tier

MSFMK_LOCATION = ["File", "Start Line", "End Line"]
FINDINGS_COLUMNS = ["file", "line", "column", "end_line", "end_column", "rule_id", "category", "status", "priority",
                    "code", "replacement", "message", "doc"]


def _cell(value) -> str:
    """Spreadsheets run cells that start with = + @ as formulas: such text is quoted with a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def _table(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def _lines(finding: Finding) -> list:
    return [finding.span.line, finding.span.end_line] if finding.span else ["", ""]


def _operation(finding: Finding) -> str:
    if not finding.original:
        return "insert"
    return "delete" if finding.replacement == "" else "replace"


def render_csv(report: Report) -> dict[str, str]:
    placed = [(r.path, f) for r in sorted(report.files, key=lambda r: r.path) for f in r.findings]
    changes = [[path, *_lines(f), _operation(f), f"{f.rule_id}: {f.original} -> {f.replacement}: {f.message}"]
               for path, f in placed if f.status is Status.CONVERTED]
    unsupported = [[path, *_lines(f), f.original, f.message] for path, f in placed if f.status is Status.UNSUPPORTED]
    unknown = [[path, *_lines(f), f.original, f.message] for path, f in placed
               if f.status in (Status.REVIEW, Status.UNKNOWN)]
    everything = [
        [path, *(([f.span.line, f.span.column, f.span.end_line, f.span.end_column]) if f.span else [""] * 4),
         f.rule_id, f.category, f.status.value, TIER_NAMES[tier(f)], f.original, f.replacement, f.message, f.doc]
        for path, f in placed
    ]
    return {
        "change_list.csv": _table([*MSFMK_LOCATION, "Operation Type", "Message"], changes),
        "unsupported_api.csv": _table([*MSFMK_LOCATION, "OP", "Tips"], unsupported),
        "unknown_api.csv": _table([*MSFMK_LOCATION, "OP", "Tips"], unknown),
        "findings.csv": _table(FINDINGS_COLUMNS, everything),
    }
