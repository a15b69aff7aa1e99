"""Views of a compare run: console table, JUnit XML, JSON, and the parity section it adds to the compatibility
report (`porter/report/`).

A parity record (``porter.findings.ParityRecord``, one per case; ``Report.parity`` holds the list) has:

- ``case``, ``op``, ``dtype``: the case; ``status``: pass | fail | error
- ``metric``, ``tensor``, ``standard``: the deciding check (the first failing one, or on a pass the
  one closest to its threshold) and the output or gradient it judged
- ``value``, ``threshold``, ``reference``: its value, the threshold it was held to, and the
  reference's own value of that metric against the benchmark (None where not measured)
- ``message``: one line naming the case and the metric
- ``checks``: every check as {tensor, metric, standard, value, threshold, reference, passed}
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from porter.findings import ParityRecord
from porter.parity.judge import Check, Verdict

STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta"}


def _number(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)  # JSON has no NaN/Infinity
    return value


def _check_record(check: Check) -> dict:
    return {"tensor": check.tensor, "metric": check.metric, "standard": check.standard,
            "value": _number(check.value), "threshold": _number(check.threshold),
            "reference": _number(check.reference), "passed": check.passed}


def parity_records(verdicts: list[Verdict]) -> list[ParityRecord]:
    records = []
    for v in verdicts:
        d = v.deciding
        records.append(ParityRecord(
            case=v.case, op=v.op, dtype=v.dtype, status=v.status,
            metric=d.metric if d else None, tensor=d.tensor if d else None, standard=d.standard if d else None,
            value=_number(d.value) if d else None, threshold=_number(d.threshold) if d else None,
            reference=_number(d.reference) if d else None, message=v.message,
            checks=[_check_record(c) for c in v.checks]))
    return records


def summary(verdicts: list[Verdict]) -> dict:
    counts = {status: sum(v.status == status for v in verdicts) for status in ("pass", "fail", "error")}
    return {"cases": len(verdicts), **counts}


def print_table(verdicts: list[Verdict], console) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="porter parity")
    table.add_column("case", no_wrap=True)  # a case name is what a user greps for: never split it
    for column in ("status", "deciding check", "value", "threshold", "reference"):
        table.add_column(column, overflow="fold")
    for v in verdicts:
        d = v.deciding
        style = STATUS_STYLE[v.status]
        cells = [f"{d.tensor} {d.metric}".strip(), _short(d.value), _short(d.threshold), _short(d.reference)] if d else [""] * 4
        table.add_row(v.case, f"[{style}]{v.status}[/{style}]", *cells)
    console.print(table)
    for v in verdicts:
        if v.status != "pass":
            console.print(f"[{STATUS_STYLE[v.status]}]{v.status.upper()}[/] {escape(v.message)}", highlight=False,
                          soft_wrap=True)
    s = summary(verdicts)
    console.print(f"{s['cases']} cases: {s['pass']} passed, {s['fail']} failed, {s['error']} errors")


def _short(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_json(verdicts: list[Verdict], path: Path, environment: dict, golden_environment: dict) -> None:
    data = {"summary": summary(verdicts), "target": environment, "reference": golden_environment,
            "cases": [record.to_dict() for record in parity_records(verdicts)]}
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_junit(verdicts: list[Verdict], path: Path, environment: dict) -> None:
    s = summary(verdicts)
    suites = ET.Element("testsuites", tests=str(s["cases"]), failures=str(s["fail"]), errors=str(s["error"]))
    suite = ET.SubElement(suites, "testsuite", name="porter-parity", tests=str(s["cases"]),
                          failures=str(s["fail"]), errors=str(s["error"]), skipped="0")
    properties = ET.SubElement(suite, "properties")
    for key in ("device", "device_name", "torch", "torch_npu", "cann", "cuda"):
        ET.SubElement(properties, "property", name=key, value=str(environment.get(key)))
    for v in verdicts:
        testcase = ET.SubElement(suite, "testcase", classname=f"parity.{v.op}", name=v.case)
        if v.status != "pass":
            element = ET.SubElement(testcase, "failure" if v.status == "fail" else "error",
                                    message=v.message, type=v.deciding.metric if v.deciding else v.status)
            element.text = "\n".join(
                f"{c.tensor} {c.metric} = {_short(c.value)} (threshold {_short(c.threshold)}, "
                f"reference {_short(c.reference)}) {'ok' if c.passed else 'FAIL'}" for c in v.checks)
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def attach(report, verdicts: list[Verdict], suite_dir: Path):
    """Put the per-case metrics into a compatibility ``Report`` (porter.findings) in place."""
    report.parity = parity_records(verdicts)
    report.parity_suite = report.parity_suite or str(suite_dir)
    return report


def update_compatibility_report(report_json: Path, verdicts: list[Verdict], suite_dir: Path) -> None:
    """Re-render report.json and report.md beside ``report_json`` with the parity section filled in."""
    from porter.report import load_report, write_reports

    report = attach(load_report(report_json), verdicts, suite_dir)
    write_reports(report, report_json.parent, ["json", "md"])
