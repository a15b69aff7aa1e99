"""Report views. Every renderer reads the one Report model; `write_reports` writes the formats asked for.

A format renders to one or more files: {file name: text}. Every view is a function of report.json (`porter report`
re-renders them from it; tests/test_report_views.py holds every renderer to that), so a view is cached under a hash
of that text and of porter's code: a re-run that changed nothing does not render the HTML again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from porter import cache
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


def write_reports(report: Report, out_dir: Path, formats: Iterable[str], cache_dir: Path | None = None) -> list[Path]:
    """`cache_dir`: where rendered views are cached (None: render every one)."""
    written = []
    formats = tuple(formats)
    saved = _json(report) if "json" in formats or cache_dir is not None else None  # the view cache's key
    for fmt in formats:
        views = {"report.json": saved} if fmt == "json" else _views(report, fmt, saved, cache_dir)
        for name, text in views.items():
            path = out_dir / name
            write_atomic(path, text.encode("utf-8"))
            written.append(path)
    return written


def _views(report: Report, fmt: str, saved: str | None, cache_dir: Path | None) -> dict[str, str]:
    if cache_dir is None:
        return RENDERERS[fmt](report)
    key = hashlib.sha256(f"views\0{cache.code_hash()}\0{fmt}\0{saved}".encode()).hexdigest()
    payload = cache.load_payload(cache_dir, key)  # checksummed: a torn or altered entry is None
    if payload is not None:
        return json.loads(payload)
    views = RENDERERS[fmt](report)
    cache.store_payload(cache_dir, key, json.dumps(views).encode())
    return views


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
