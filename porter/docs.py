"""Rule documentation, rendered from the rule data: `porter rules show`, docs/rules/ and the report's rule pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from porter.ruleset import Rule
from porter.templating import render
from porter.lossless_io import write_atomic


def rule_page(rule: Rule, exercised: int | None = None) -> str:
    """`exercised`: how many entries the generated per-entry tests check (docs/rules/ only; None leaves it out)."""
    return render("rule.md.j2", rule=rule, exercised=exercised)


def catalogue(rules: list[Rule]) -> str:
    lines = ["# porter rules", "", "| id | name | kind | category | entries | summary |", "|---|---|---|---|---:|---|"]
    for rule in rules:
        summary = rule.summary.replace("|", "\\|")
        lines.append(f"| [{rule.id}]({rule.id}.md) | {rule.name} | {rule.kind} | {rule.category} | "
                     f"{len(rule.entries)} | {summary} |")
    return "\n".join(lines) + "\n"


def write_rule_pages(rules: list[Rule], out_dir: Path, exercised: Callable[[Rule], int] | None = None) -> None:
    for rule in rules:
        page = rule_page(rule, exercised(rule) if exercised else None)
        write_atomic(out_dir / f"{rule.id}.md", page.encode("utf-8"))
    write_atomic(out_dir / "README.md", catalogue(rules).encode("utf-8"))
