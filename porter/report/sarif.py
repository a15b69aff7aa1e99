"""SARIF 2.1.0, for code-scanning UIs: porter's rules with their help, every finding at its place in the source
tree, and the edit as a fix wherever porter rewrote the code."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from porter import __version__
from porter.findings import Finding, Report, Status
from porter.report.review import LOW, tier
from porter.report.rules_info import builtin_rules

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {Status.UNSUPPORTED: "error", Status.REVIEW: "warning", Status.UNKNOWN: "note"}
SOURCE_ROOT = "SRCROOT"


def _rule_descriptor(rule_id: str, rules: dict) -> dict:
    descriptor = {"id": rule_id, "helpUri": f"rules/{rule_id}.md"}
    rule = rules.get(rule_id)
    if rule is None:
        return {**descriptor, "shortDescription": {"text": rule_id}, "help": {"text": f"See rules/{rule_id}.md."}}
    return {
        **descriptor,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc.strip() or rule.summary},
        "help": {"text": f"{rule.summary}\n\n{rule.doc.strip()}", "markdown": f"**{rule.summary}**\n\n{rule.doc.strip()}"},
        "properties": {"tags": sorted({rule.category, rule.kind})},
    }


def _region(finding: Finding) -> dict | None:
    span = finding.span
    if span is None:
        return None
    # porter's end column is inclusive; SARIF's is the column after the last character
    return {"startLine": span.line, "startColumn": span.column, "endLine": span.end_line,
            "endColumn": span.end_column + 1}


def _result(path: str, finding: Finding, rule_index: int) -> dict:
    artifact = {"uri": quote(path), "uriBaseId": SOURCE_ROOT}
    physical: dict = {"artifactLocation": artifact}
    region = _region(finding)
    if region:
        physical["region"] = region
    result = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical}],
        "properties": {"status": finding.status.value, "category": finding.category,
                       "lowPriority": tier(finding) == LOW},
    }
    if finding.status is Status.CONVERTED:
        result.update(kind="informational", level="none")
        if region and finding.replacement is not None:
            result["fixes"] = [{
                "description": {"text": f"porter: {finding.original} → {finding.replacement}"},
                "artifactChanges": [{"artifactLocation": artifact, "replacements": [
                    {"deletedRegion": region, "insertedContent": {"text": finding.replacement}}]}],
            }]
    else:
        result["level"] = LEVEL[finding.status]
    return result


def render_sarif(report: Report) -> str:
    rules = builtin_rules(report.target)
    files = sorted(report.files, key=lambda r: r.path)
    rule_ids = sorted({f.rule_id for r in files for f in r.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "porter", "version": __version__, "semanticVersion": __version__,
                                "rules": [_rule_descriptor(rule_id, rules) for rule_id in rule_ids]}},
            "originalUriBaseIds": {SOURCE_ROOT: {"uri": Path(report.source).resolve().as_uri() + "/"}},
            "results": [_result(r.path, f, index[f.rule_id]) for r in files for f in r.findings],
            "properties": {"target": f"torch_npu {report.target}", "rulesVersion": report.rules_version},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
