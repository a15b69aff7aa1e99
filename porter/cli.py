"""The command line. Commands only translate options into requests and results into output and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from porter import __version__
from porter.docs import catalogue, rule_page
from porter.engine import DEFAULT_MAX_FILE_SIZE, PortOptions
from porter.findings import Outcome
from porter.pipeline import PortRequest, UsageError, fail_on_hit, run
from porter.progress import Progress
from porter.report import RENDERERS
from porter.ruleset import RuleError, RuleSet, load_ruleset
from porter.surface import available_versions

EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE = 0, 1, 2


def _ruleset(target: str | None, rule_files: tuple[str, ...]) -> RuleSet:
    versions = available_versions("torch_npu")
    target = target or versions[-1]
    if target not in versions:
        raise click.BadParameter(f"unsupported torch_npu version {target}; supported: {', '.join(versions)}",
                                 param_hint="--target")
    try:
        return load_ruleset(target, tuple(Path(f) for f in rule_files))
    except RuleError as exc:
        raise click.BadParameter(str(exc), param_hint="--rules") from exc


def _common_options(func):
    options = [
        click.option("--target", help="torch_npu version to port for (default: the newest supported)."),
        click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Extra YAML rule file (same schema as rules/); may repeat. Overrides built-ins by ID."),
        click.option("--include", multiple=True, help="Only port paths matching this glob (may repeat)."),
        click.option("--exclude", multiple=True, help="Do not port paths matching this glob (copied as is)."),
        click.option("--no-gitignore", is_flag=True, help="Also process files that .gitignore excludes."),
        click.option("--format", "formats", multiple=True, type=click.Choice(sorted(RENDERERS)),
                     help="Report formats to write (default: all)."),
        click.option("--fail-on", type=click.Choice(["unsupported", "review", "never"]), default="never",
                     show_default=True, help="Exit 1 when a finding at this level or worse exists."),
        click.option("--jobs", "-j", type=int, default=PortOptions().jobs, show_default=True,
                     help="Worker processes."),
        click.option("--max-file-size", type=int, default=DEFAULT_MAX_FILE_SIZE, show_default=True,
                     help="Larger source files are copied without porting (bytes)."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PORTER_CACHE_DIR",
                     help="Cache per-file results here (or $PORTER_CACHE_DIR): re-runs only port changed files."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("-v", "--verbose", is_flag=True, help="Print a line for every file with findings."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _finish(report, fail_on: str, quiet: bool) -> None:
    totals = report.totals()
    if not quiet:
        by_status = ", ".join(f"{n} {s}" for s, n in totals["findings_by_status"].items())
        click.echo(f"porter: {totals['files']} files, {totals['files_by_outcome']['converted']} converted; "
                   f"findings: {by_status}", err=True)
    errors = [r for r in report.files if r.outcome is Outcome.ERROR]
    for result in errors:
        click.echo(f"porter: {result.path}: {result.error}", err=True)
    sys.exit(EXIT_THRESHOLD if fail_on_hit(report, fail_on) else EXIT_OK)


def _run(request: PortRequest, quiet: bool, verbose: bool, show_diff: bool = False):
    progress = Progress(enabled=not quiet, verbose=verbose)
    try:
        with progress:
            on_diff = (lambda text: click.echo(text, nl=False)) if show_diff else None
            return run(request, on_start=progress.start, on_result=progress.advance, on_diff=on_diff)
    except UsageError as exc:
        click.echo(f"porter: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="porter")
def main() -> None:
    """Port PyTorch/CUDA repositories to Ascend NPUs (torch_npu, CANN, HCCL).

    Exit codes: 0 success, 1 a --fail-on threshold was hit (or a parity case failed), 2 usage or input error.
    """


@main.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Where to write the ported copy.")
@click.option("--in-place", is_flag=True, help="Rewrite SOURCE itself (originals backed up beside it).")
@click.option("--force", is_flag=True, help="Write into a non-empty output or over a dirty git tree.")
@click.option("--dry-run", is_flag=True, help="Port and report on the console; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff to stdout; write nothing.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the report (default: OUTPUT/porter-report).")
@click.option("--no-parity", is_flag=True, help="Do not generate the numeric-parity suite.")
@_common_options
def port(source, output, in_place, force, dry_run, show_diff, report_dir, no_parity, target, rule_files, include,
         exclude, no_gitignore, formats, fail_on, jobs, max_file_size, cache_dir, quiet, verbose):
    """Port SOURCE into OUTPUT (or in place) and write the compatibility report."""
    if bool(output) == in_place and not (dry_run or show_diff):
        raise click.UsageError("give either -o OUTPUT or --in-place (or --dry-run / --diff)")
    request = PortRequest(
        source=source, output=None if in_place else output, ruleset=_ruleset(target, rule_files),
        report_dir=report_dir, in_place=in_place, dry_run=dry_run or show_diff, force=force, include=include,
        exclude=exclude, respect_gitignore=not no_gitignore, formats=formats or tuple(sorted(RENDERERS)),
        options=PortOptions(max_file_size=max_file_size, jobs=jobs, cache_dir=cache_dir), parity=not no_parity,
    )
    _finish(_run(request, quiet, verbose, show_diff), fail_on, quiet or show_diff)


@main.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("porter-report"),
              show_default=True, help="Where to write the report.")
@_common_options
def analyze(source, report_dir, target, rule_files, include, exclude, no_gitignore, formats, fail_on, jobs,
            max_file_size, cache_dir, quiet, verbose):
    """Report what porting SOURCE involves, with a migration-effort summary; write no ported tree."""
    request = PortRequest(
        source=source, output=None, ruleset=_ruleset(target, rule_files), report_dir=report_dir, include=include,
        exclude=exclude, respect_gitignore=not no_gitignore, formats=formats or tuple(sorted(RENDERERS)),
        options=PortOptions(max_file_size=max_file_size, jobs=jobs, cache_dir=cache_dir), parity=False,
    )
    report = _run(request, quiet, verbose)
    if not quiet:
        click.echo(effort_summary(report))
    _finish(report, fail_on, quiet)


def effort_summary(report) -> str:
    totals = report.totals()
    touched = sum(1 for r in report.files if r.findings)
    lines = [
        f"files: {totals['files']} ({touched} with findings)",
        "by status: " + ", ".join(f"{s} {n}" for s, n in totals["findings_by_status"].items()),
        "by category: " + (", ".join(f"{c} {n}" for c, n in totals["findings_by_category"].items()) or "none"),
        f"estimated manual items: {totals['manual_items']}",
    ]
    return "\n".join(lines)


@main.group()
def rules() -> None:
    """The rule catalogue."""


@rules.command("list")
@click.option("--target", help="torch_npu version (default: the newest supported).")
def rules_list(target):
    """List every rule."""
    click.echo(catalogue(list(_ruleset(target, ()).rules)), nl=False)


@rules.command("show")
@click.argument("rule_id")
@click.option("--target", help="torch_npu version (default: the newest supported).")
def rules_show(rule_id, target):
    """Show one rule's documentation page."""
    rule = _ruleset(target, ()).by_id(rule_id.upper())
    if rule is None:
        click.echo(f"porter: error: no rule {rule_id}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(rule_page(rule), nl=False)


def _register_parity() -> None:
    from porter.parity.cli import parity

    main.add_command(parity)


_register_parity()
