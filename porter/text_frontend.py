"""Non-Python text files: launch scripts get their CUDA/NCCL environment variables renamed (the `env_var`
rules that name the `script` kind); build files, scripts and configs that still mention CUDA are listed."""

from __future__ import annotations

import re

from porter.findings import FileResult, Finding, Outcome, Span, entry_finding
from porter.ruleset import RuleSet
from porter.lossless_io import looks_binary


def _rename_env_vars(text: str, kind: str, ruleset: RuleSet) -> tuple[str, list[Finding]]:
    findings = []
    lines = text.splitlines(keepends=True)
    for rule in ruleset.of_kind("env_var"):
        if kind not in rule.contexts.get("kinds", ()):
            continue
        entries = {e.pattern: e for e in rule.entries}
        name_re = re.compile(r"(?<![\w])(" + "|".join(map(re.escape, sorted(entries, key=len, reverse=True))) + r")(?![\w])")
        for number, line in enumerate(lines):
            if line.lstrip().startswith("#"):
                continue
            for match in reversed(list(name_re.finditer(line))):
                entry = entries[match.group(1)]
                span = Span(number + 1, match.start() + 1, number + 1, match.end())
                findings.append(entry_finding(rule, entry, span, match.group(1), entry.replacement))
                if entry.replacement is not None:
                    line = line[: match.start()] + entry.replacement + line[match.end() :]
            lines[number] = line
    return "".join(lines), sorted(findings, key=lambda f: (f.span.line, f.span.column))


def _residual_lines(text: str, kind: str, ruleset: RuleSet) -> list[Finding]:
    lines = text.splitlines()
    findings = []
    for rule in ruleset.of_kind("text_residual"):
        if kind not in rule.contexts["kinds"]:
            continue
        pattern = re.compile(rule.contexts["pattern"])
        hits = [number for number, line in enumerate(lines, start=1) if pattern.search(line)]
        if hits:
            entry, first = rule.entries[0], lines[hits[0] - 1]
            findings.append(entry_finding(rule, entry, Span(hits[0], 1, hits[0], len(first)), first.strip(),
                                          detail=f"{len(hits)} line(s); first at line {hits[0]}"))
    return findings


def port_text_file(relpath: str, kind: str, data: bytes, ruleset: RuleSet) -> FileResult:
    if looks_binary(data):
        return FileResult(relpath, kind, Outcome.COPIED)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # listed, never rewritten
        return FileResult(relpath, kind, Outcome.COPIED, _residual_lines(data.decode("utf-8", "replace"), kind, ruleset))
    new_text, findings = _rename_env_vars(text, kind, ruleset)
    findings += _residual_lines(new_text, kind, ruleset)
    if new_text != text:
        return FileResult(relpath, kind, Outcome.CONVERTED, findings, new_bytes=new_text.encode("utf-8"))
    return FileResult(relpath, kind, Outcome.FLAGGED if findings else Outcome.COPIED, findings)
