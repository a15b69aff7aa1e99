"""Report views. Every renderer reads the one Report model; `write_reports` writes the formats asked for.

A format renders to one or more files: {file name: text}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from porter.findings import FileResult, ParityRecord, Report
from porter.report.csv_views import render_csv
from porter.report.html import render_html
from porter.report.markdown import render_markdown
from porter.report.sarif import render_sarif
from porter.lossless_io import write_atomic


def _json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Report], dict[str, str]]] = {
    "json": lambda report: {"report.json": _json(report)},
    "md": lambda report: {"report.md": render_markdown(report)},
    "html": lambda report: {"report.html": render_html(report)},
    "sarif": lambda report: {"report.sarif": render_sarif(report)},
    "csv": render_csv,
}
DEFAULT_FORMATS = ("json", "md", "html")


def write_reports(report: Report, out_dir: Path, formats: Iterable[str]) -> list[Path]:
    written = []
    for fmt in formats:
        for name, text in RENDERERS[fmt](report).items():
            path = out_dir / name
            write_atomic(path, text.encode("utf-8"))
            written.append(path)
    return written


def load_report(path: Path) -> Report:
    """Read a report.json written by porter (any 1.x schema)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not str(data.get("schema_version", "")).startswith("1."):
        raise ValueError(f"{path}: unsupported report schema {data.get('schema_version')!r}")
    files = [FileResult.from_dict(f) for f in data["files"]]
    return Report(
        porter_version=data["porter_version"], rules_version=data["rules_version"], target=data["target"],
        source=data["source"], output=data.get("output"), files=files,
        parity=None if data.get("parity") is None else [ParityRecord.from_dict(p) for p in data["parity"]],
        parity_suite=data.get("parity_suite"), ignored_copied=data.get("totals", {}).get("ignored_copied", 0),
        skipped=data.get("skipped", []), incomplete=data.get("incomplete", False),
        backend_support=data.get("backend_support"),
    )
