"""`porter parity ...`: click commands only; the work is in harness, views and suite.

Exit codes: 0 every case passes, 1 a case fails (or errors while running), 2 a usage or input
error (no suite, a missing or corrupt golden, a backend that cannot be used here).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from porter.parity.device import DEVICES
EXIT_FAIL, EXIT_INPUT = 1, 2
DEFAULT_MAX_GOLDEN_MB = 1024.0
REPORT_GUESS = Path("porter-report") / "report.json"  # beside the suite, as `porter port` writes them

suite_argument = click.argument("suite", type=click.Path(exists=True, file_okay=False, path_type=Path))
device_option = click.option("--device", type=click.Choice(DEVICES), required=True,
                             help="Backend that runs the cases.")
golden_option = click.option("--golden", "golden_dir", type=click.Path(file_okay=False, path_type=Path),
                             help="Golden set directory (default: SUITE/golden).")
world_option = click.option("--world-size", type=click.IntRange(min=1), default=None,
                            help="Run every collective case in a group of this many ranks (torchrun, one per device).")
launcher_option = click.option("--launcher-args", default=None, metavar="ARGS",
                               help="Extra torchrun arguments for collectives across hosts, e.g. "
                                    "'--nnodes 2 --node-rank 0 --rdzv-endpoint host0:29500'.")
case_option = click.option("-k", "--case", "patterns", multiple=True, metavar="PATTERN",
                           help="Only cases whose name matches (glob, or substring); repeatable.")


def _input_error(message: str):
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def _load(suite_dir: Path, patterns: tuple[str, ...], device: str | None = None, world_size: int | None = None,
          launcher_args: str | None = None):
    """The suite and its selected cases; torch is imported here so a missing or broken install reads clearly.

    ``world_size`` replaces every collective case's; ``launcher_args`` go to torchrun.
    """
    from porter.parity.device import DeviceError, import_torch

    try:
        import_torch(device)
    except DeviceError as exc:
        _input_error(str(exc))
    from porter.parity.harness import select
    from porter.parity.suite import SuiteError, load_suite

    try:
        suite = load_suite(suite_dir)
    except SuiteError as exc:
        _input_error(str(exc))
    cases = select(suite.cases, patterns)
    if not cases:
        _input_error(f"no case in {suite_dir} matches {', '.join(patterns) or 'anything'}")
    if world_size is not None:
        for case in cases:
            if case.kind.family == "collective":
                case.params["world_size"] = world_size
    if launcher_args is not None:
        from porter.parity.collectives import LAUNCHER_ARGS

        os.environ[LAUNCHER_ARGS] = launcher_args
    return suite, cases


@click.group()
def parity():
    """Numeric parity: record goldens on a reference backend, compare a target against them."""


@parity.command()
@suite_argument
@device_option
@golden_option
@case_option
@world_option
@launcher_option
@click.option("--max-golden-mb", type=click.FloatRange(min=0), default=DEFAULT_MAX_GOLDEN_MB, show_default=True,
              help="Refuse to write a golden set larger than this (MiB).")
def record(suite, device, golden_dir, patterns, world_size, launcher_args, max_golden_mb):
    """Run every case on the reference backend and store outputs and gradients (inputs as hashes).

    Replaces the golden set in the golden directory with the selected cases.
    """
    loaded, cases = _load(suite, patterns, device, world_size, launcher_args)
    from porter.parity.device import DeviceError
    from porter.parity.golden import GoldenError
    from porter.parity.harness import record as run_record

    golden_dir = golden_dir or suite / "golden"
    try:
        result = run_record(loaded, device, golden_dir, cases, max_golden_mb)
    except (DeviceError, GoldenError) as exc:
        _input_error(str(exc))
    click.echo(f"recorded {len(result.recorded)} case(s) on {device} into {golden_dir}")
    for name, error in sorted(result.failed.items()):
        click.echo(f"FAILED {name}: {error}", err=True)
    sys.exit(EXIT_FAIL if result.failed else 0)


@parity.command()
@suite_argument
@device_option
@golden_option
@case_option
@world_option
@launcher_option
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Compatibility report.json to add the parity section to "
                   "(default: SUITE/../porter-report/report.json when it exists).")
def compare(suite, device, golden_dir, patterns, world_size, launcher_args, junit, json_path, report_path):
    """Run the cases on the target backend with the recorded inputs and judge them."""
    loaded, cases = _load(suite, patterns, device, world_size, launcher_args)  # first: it imports torch for this device
    from rich.console import Console

    from porter.parity import golden, views
    from porter.parity.device import DeviceError
    from porter.parity.harness import compare as run_compare

    golden_dir = golden_dir or suite / "golden"
    if report_path is not None and not report_path.is_file():
        _input_error(f"--report {report_path}: no such file")
    try:
        verdicts, environment = run_compare(loaded, device, golden_dir, cases)
        reference_environment = golden.load_manifest(golden_dir).get("environment", {})
    except (DeviceError, golden.GoldenError) as exc:
        _input_error(str(exc))
    views.print_table(verdicts, Console())
    if junit:
        views.write_junit(verdicts, junit, environment)
    if json_path:
        views.write_json(verdicts, json_path, environment, reference_environment)
    guess = suite.resolve().parent / REPORT_GUESS
    report_path = report_path or (guess if guess.is_file() else None)
    if report_path is not None:
        views.update_compatibility_report(report_path, verdicts, loaded.directory)
        click.echo(f"parity section written to {report_path.parent}")
    if any(v.status == "error" and v.deciding and v.deciding.metric == "golden" for v in verdicts):
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_FAIL if any(v.status != "pass" for v in verdicts) else 0)


@parity.command(name="list")
@suite_argument
@case_option
def list_cases(suite, patterns):
    """List the suite's cases: op, dtype, input shapes and where each was found."""
    _, cases = _load(suite, patterns)
    for case in cases:
        shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in case.inputs.items())
        where = f"  ({case.source})" if case.source else ""
        click.echo(f"{case.name}: {case.op} {case.dtype} {shapes}{where}")


@parity.command()
def standards():
    """Print every threshold, per standard and dtype (Markdown)."""
    from porter.parity.standards import markdown_table

    click.echo(markdown_table(), nl=False)
