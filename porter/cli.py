"""The command line. Commands only translate options into requests and results into output and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from porter import __version__, cache
from porter.config import ConfigError, load_config
from porter.docs import catalogue, rule_page, write_rule_pages
from porter.engine import DEFAULT_MAX_FILE_SIZE, PortOptions
from porter.findings import Outcome
from porter.pipeline import PortRequest, UsageError, fail_on_hit, run
from porter.progress import Progress
from porter.report import DEFAULT_FORMATS, RENDERERS, load_report, write_reports
from porter.report.review import effort_text, review
from porter.report.rules_info import builtin_rules
from porter.ruleset import RuleError, RuleSet, load_ruleset
from porter.surface import available_versions

EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE = 0, 1, 2
FAIL_ON = ["unsupported", "review", "never"]
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


def _ruleset(target: str | None, rule_files: tuple[str, ...], fuse: bool = False) -> RuleSet:
    versions = available_versions("torch_npu")
    target = target or versions[-1]
    if target not in versions:
        raise click.BadParameter(f"unsupported torch_npu version {target}; supported: {', '.join(versions)}",
                                 param_hint="--target")
    try:
        ruleset = load_ruleset(target, tuple(Path(f) for f in rule_files))
    except RuleError as exc:
        raise click.BadParameter(str(exc), param_hint="--rules") from exc
    return ruleset.enabling("fuse") if fuse else ruleset


def _common_options(func):
    options = [
        click.option("--target", help="torch_npu version to port for (default: the newest supported)."),
        click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Extra YAML rule file (same schema as rules/); may repeat. Overrides built-ins by ID."),
        click.option("--include", multiple=True, help="Only port paths matching this glob (may repeat)."),
        click.option("--exclude", multiple=True, help="Do not port paths matching this glob (copied as is)."),
        click.option("--no-gitignore", is_flag=True, help="Also process files that .gitignore excludes."),
        click.option("--format", "formats", multiple=True, type=click.Choice(sorted(RENDERERS)),
                     help=f"Report formats to write; may repeat (default: {', '.join(DEFAULT_FORMATS)})."),
        click.option("--fail-on", type=click.Choice(FAIL_ON), default="never",
                     show_default=True, help="Exit 1 when a finding at this level or worse exists."),
        click.option("--jobs", "-j", type=int, default=PortOptions().jobs, show_default=True,
                     help="Worker processes."),
        click.option("--max-file-size", type=int, default=DEFAULT_MAX_FILE_SIZE, show_default=True,
                     help="Larger source files are copied without porting (bytes)."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PORTER_CACHE_DIR",
                     help="Where per-file results are cached, so a re-run only ports what changed (default: "
                          "$PORTER_CACHE_DIR, else $XDG_CACHE_HOME/porter or ~/.cache/porter)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option("--cache-max-mb", type=click.IntRange(min=1), default=cache.DEFAULT_MAX_BYTES >> 20,
                     show_default=True, help="Evict the least recently used cache entries beyond this size."),
        click.option("--fuse", is_flag=True, help="Rewrite hand-written math that torch_npu computes as one fused "
                                                  "operator (see docs/rules/PY416.md); without it, advice only."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("-v", "--verbose", is_flag=True, help="Print a line for every file with findings."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _configured(source: Path, **given):
    """The options as given, with [tool.porter] of SOURCE's pyproject.toml filling those left at their default."""
    ctx = click.get_current_context()
    try:
        config = load_config(source)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    for name, value in config.items():
        if ctx.get_parameter_source(name) in (None, click.core.ParameterSource.DEFAULT):
            given[name] = value
    if given["fail_on"] not in FAIL_ON:
        raise click.UsageError(f"[tool.porter] fail-on must be one of {', '.join(FAIL_ON)}")
    unknown = set(given["formats"]) - set(RENDERERS)
    if unknown:
        raise click.UsageError(f"[tool.porter] format: unknown {', '.join(sorted(unknown))}; known: {', '.join(sorted(RENDERERS))}")
    return given


def _cache_dir(given: Path | None, no_cache: bool) -> Path | None:
    return None if no_cache else given or cache.default_directory()


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


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # click itself would turn it into exit 1, the --fail-on code
            click.echo("\nporter: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="porter")
def main() -> None:
    """Port PyTorch/CUDA repositories to Ascend NPUs (torch_npu, CANN, HCCL).

    Exit codes: 0 success, 1 a --fail-on threshold was hit (or a parity case failed), 2 usage or input error,
    130 interrupted (Ctrl-C; an output being written is left marked incomplete and the next run replaces it).
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
@click.option("--skip-ignored", is_flag=True,
              help="Leave files .gitignore excludes out of OUTPUT (listed in the report); by default they are "
                   "copied unchanged.")
@_common_options
def port(source, output, in_place, force, dry_run, show_diff, report_dir, no_parity, skip_ignored, target, rule_files,
         include, exclude, no_gitignore, formats, fail_on, jobs, max_file_size, cache_dir, no_cache, cache_max_mb,
         fuse, quiet, verbose):
    """Port SOURCE into OUTPUT (or in place) and write the compatibility report.

    Defaults for --target, --include, --exclude, --fail-on, --rules and --format may come from [tool.porter] in
    SOURCE/pyproject.toml; the command line wins."""
    opts = _configured(source, target=target, rule_files=rule_files, include=include, exclude=exclude,
                       formats=formats, fail_on=fail_on)
    target, rule_files, include, exclude, formats, fail_on = (
        opts[k] for k in ("target", "rule_files", "include", "exclude", "formats", "fail_on"))
    if bool(output) == in_place and not (dry_run or show_diff):
        raise click.UsageError("give either -o OUTPUT or --in-place (or --dry-run / --diff)")
    request = PortRequest(
        source=source, output=None if in_place else output, ruleset=_ruleset(target, rule_files, fuse),
        report_dir=report_dir, in_place=in_place, dry_run=dry_run or show_diff, force=force, include=include,
        exclude=exclude, respect_gitignore=not no_gitignore, skip_ignored=skip_ignored,
        formats=formats or DEFAULT_FORMATS,
        options=PortOptions(max_file_size=max_file_size, jobs=jobs, cache_dir=_cache_dir(cache_dir, no_cache),
                            cache_max_bytes=cache_max_mb << 20), parity=not no_parity,
    )
    _finish(_run(request, quiet, verbose, show_diff), fail_on, quiet or show_diff)


@main.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the report files here (with --format alone: ./porter-report). Default: console only.")
@_common_options
def analyze(source, report_dir, target, rule_files, include, exclude, no_gitignore, formats, fail_on, jobs,
            max_file_size, cache_dir, no_cache, cache_max_mb, fuse, quiet, verbose):
    """Report what porting SOURCE involves: effort summary and top actions on the console; files only if asked.

    Defaults may come from [tool.porter] in SOURCE/pyproject.toml, as for `port`."""
    opts = _configured(source, target=target, rule_files=rule_files, include=include, exclude=exclude,
                       formats=formats, fail_on=fail_on)
    target, rule_files, include, exclude, formats, fail_on = (
        opts[k] for k in ("target", "rule_files", "include", "exclude", "formats", "fail_on"))
    if report_dir is None and formats:
        report_dir = Path("porter-report")
    request = PortRequest(
        source=source, output=None, ruleset=_ruleset(target, rule_files, fuse), report_dir=report_dir, include=include,
        exclude=exclude, respect_gitignore=not no_gitignore, formats=formats or DEFAULT_FORMATS,
        options=PortOptions(max_file_size=max_file_size, jobs=jobs, cache_dir=_cache_dir(cache_dir, no_cache),
                            cache_max_bytes=cache_max_mb << 20), parity=False,
        dry_run=report_dir is None,
    )
    report = _run(request, quiet, verbose)
    if not quiet:
        click.echo(effort_summary(report))
    _finish(report, fail_on, quiet)


TOP_ACTIONS = 10


def effort_summary(report) -> str:
    totals, rev = report.totals(), review(report)
    lines = [
        f"files: {totals['files']} ({rev.files_with_findings} with findings)",
        "by status: " + ", ".join(f"{s} {n}" for s, n in totals["findings_by_status"].items()),
        "by category: " + (", ".join(f"{c} {n}" for c, n in totals["findings_by_category"].items()) or "none"),
        f"estimated manual items: {rev.distinct_todo} distinct ({rev.todo_count} findings), plus {len(rev.low)} "
        f"CUDA-named identifiers or strings of lowest priority in {rev.low_files} file(s)",
        f"effort: {effort_text(rev)}",
    ]
    if rev.todo:
        lines.append("top actions:")
        lines += [f"  {i}. [{a.rule_id} {a.status}] {a.title}: {a.count} in {len(a.files)} file(s)"
                  + (f", {len(a.items)} distinct" if len(a.items) < a.count else "")
                  for i, a in enumerate(rev.todo[:TOP_ACTIONS], start=1)]
        if len(rev.todo) > TOP_ACTIONS:
            lines.append(f"  … {len(rev.todo) - TOP_ACTIONS} more (write the report with --report-dir or --format)")
    return "\n".join(lines)


@main.command("report")
@click.argument("report_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(sorted(RENDERERS)),
              help=f"Formats to write; may repeat (default: {', '.join(DEFAULT_FORMATS)}).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write into (default: the report's own directory).")
def report_command(report_json, formats, output):
    """Re-render a saved report.json (any 1.x schema) as html, md, csv, sarif or json."""
    try:
        report = load_report(report_json)
    except (ValueError, KeyError, OSError) as exc:
        click.echo(f"porter: error: cannot read {report_json}: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    out_dir = output or report_json.parent
    try:
        written = write_reports(report, out_dir, formats or DEFAULT_FORMATS)
        rules = builtin_rules(report.target)
        pages = [rules[i] for i in sorted({f.rule_id for f in report.findings}) if i in rules]
        if pages and out_dir != report_json.parent:  # the views link each finding to its rule's page beside them
            write_rule_pages(pages, out_dir / "rules")
    except OSError as exc:
        click.echo(f"porter: error: cannot write to {out_dir}: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for path in written:
        click.echo(str(path))


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


@main.command()
@click.option("--target", help="torch_npu version the port was made for (default: the newest supported).")
def doctor(target):
    """Check this machine for what a ported project needs: torch / torch_npu / CANN versions that match each
    other and the port's --target, torch_npu importable, NPUs visible, device and HCCL environment.

    Exit 1 when a check fails."""
    from porter.doctor import FAIL, Machine, diagnose

    checks = diagnose(Machine(), target or available_versions("torch_npu")[-1])
    for check in checks:
        click.echo(check.render())
    sys.exit(EXIT_THRESHOLD if any(c.state == FAIL for c in checks) else EXIT_OK)


@main.command()
@click.argument("code")
@click.option("--report", "report_json", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A report.json: explain its findings at CODE (a path or path:line) or of rule CODE.")
@click.option("--target", help="torch_npu version (default: the newest supported).")
def explain(code, report_json, target):
    """Explain CODE: a rule ID (its page), an ACL or HCCL error code or name (107002, ACL_ERROR_RT_CONTEXT_NULL,
    "hccl 9"), or with --report a finding's place (path or path:line)."""
    from porter.explain import explain_error, explain_place, find_error, rule_findings

    report = load_report(report_json) if report_json else None
    rule = _ruleset(target, ()).by_id(code.upper())
    if rule is not None:
        click.echo(rule_page(rule), nl=False)
        if report is not None:
            click.echo("\n" + rule_findings(report, rule.id))
        return
    if report is not None:
        place = explain_place(report, code)
        if place is not None:
            click.echo(place)
            return
    errors = find_error(code, target)
    if not errors:
        click.echo(f"porter: error: {code!r} is no rule ID, ACL/HCCL error code{', or finding place' if report else ''}"
                   " porter knows", err=True)
        sys.exit(EXIT_USAGE)
    click.echo("\n\n".join(explain_error(e) for e in errors))


@main.command()
@click.argument("output", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--torch-npu", "torch_npu", metavar="PATH",
              help="The torch-npu .whl or its unpacked directory (default: $PORTER_TORCH_NPU, else the installed one).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Compilers run at once (default: CPU count).")
def check(output, torch_npu, jobs):
    """Syntax-check the host C++ of a ported tree (g++ -fsyntax-only) against the real torch and torch-npu headers
    (ACL, HCCL, torch_npu). Never installs or imports torch_npu.

    Exit 1 when a file does not compile, 2 when the compiler or the headers are missing."""
    from porter.check import CheckError, check_tree

    try:
        checks = check_tree(output, torch_npu, jobs)
    except CheckError as exc:
        click.echo(f"porter: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for result in checks:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.path}")
        if not result.ok:
            click.echo("  " + result.output.replace("\n", "\n  "))
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks)} host C++ file(s) checked, {failed} failed")
    sys.exit(EXIT_THRESHOLD if failed else EXIT_OK)


def _register_parity() -> None:
    from porter.parity.cli import parity

    main.add_command(parity)


_register_parity()
