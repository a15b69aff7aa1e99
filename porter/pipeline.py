"""`porter port` and `porter analyze` end to end: checks, discovery, porting, writing, reports."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from porter import __version__, backend_support, cache
from porter.discover import REPORT_DIR_NAME, SourceFile, discover, local_modules
from porter.docs import write_rule_pages
from porter.engine import PortOptions, input_finding, port_files
from porter.findings import FileResult, Finding, Outcome, Report, Span, entry_finding
from porter.output import backup_originals, is_marked_incomplete, mark_incomplete, write_file
from porter.parity.check_process import CheckProcess
from porter.lossless_io import write_atomic
from porter.report import write_reports
from porter.ruleset import RuleSet

if TYPE_CHECKING:
    from porter.parity.suite import CaseCheck


class UsageError(Exception):
    """Bad invocation or input the user must fix; the CLI exits with 2."""


@dataclass
class PortRequest:
    source: Path
    output: Path | None  # None: analysis only, or --in-place
    ruleset: RuleSet
    report_dir: Path | None = None
    in_place: bool = False
    dry_run: bool = False
    force: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    skip_ignored: bool = False  # leave files .gitignore excludes out of the output (listed in the report)
    formats: tuple[str, ...] = ("json", "md")
    options: PortOptions = field(default_factory=PortOptions)
    parity: bool = True


def _is_inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _git_is_dirty(path: Path) -> bool:
    try:
        done = subprocess.run(["git", "-C", str(path), "status", "--porcelain"], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def check_request(request: PortRequest) -> None:
    src, dst = request.source, request.output
    if not src.is_dir():
        raise UsageError(f"source {src} is not a directory")
    if request.in_place:
        if _git_is_dirty(src) and not request.force:
            raise UsageError(f"{src} has uncommitted changes; commit or stash them first, or pass --force")
        return
    if dst is None:
        return
    existing = next(p for p in (dst, *dst.absolute().parents) if p.exists())
    if not existing.is_dir():
        where = "" if existing == dst else f" ({existing} is a file)"
        raise UsageError(f"the output {dst} must be a directory{where}; choose another place")
    if dst.resolve() == src.resolve():
        raise UsageError("the output directory is the source directory; use --in-place to port in place")
    if _is_inside(dst, src) and not request.force:
        raise UsageError(f"the output {dst} lies inside the source {src}; choose another place or pass --force")
    try:
        occupied = dst.exists() and any(dst.iterdir()) and not is_marked_incomplete(dst)
    except OSError as exc:
        raise UsageError(f"cannot read the output {dst}: {exc}") from exc
    if occupied and not request.force:
        raise UsageError(f"the output {dst} exists and is not empty; choose another place or pass --force")


class _TreeWriter:
    """Writes each file of the output tree as soon as its result arrives, so the parent never holds the whole new
    tree: a written result keeps its diff and drops its new bytes. A file that cannot be written becomes an error
    with a finding; the run goes on."""

    def __init__(self, request: PortRequest) -> None:
        self.request = request
        self.dst = request.source if request.in_place else request.output
        self.backup = None
        if request.in_place:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            self.backup = request.source.parent / f"{request.source.name}.porter-backup-{stamp}"

    def write(self, result: FileResult) -> None:
        if not self.request.in_place or result.outcome is Outcome.CONVERTED:
            if self.backup is not None:
                backup_originals(self.request.source, self.backup, [result])
            self._guarded(result, lambda: write_file(self.request.source, self.dst, result))
        for relpath, data in sorted(result.generated.items()):  # new files beside their source, also in place
            if ".." in Path(relpath).parts or Path(relpath).is_absolute():
                self._failed(result, OSError(f"{relpath}: outside the output tree"), relpath)
                continue
            self._guarded(result, lambda: write_atomic(self.dst / relpath, data), relpath)
        result.new_bytes = None

    def copy_ignored(self, ignored: list[SourceFile]) -> list[FileResult]:
        """Copy what .gitignore excludes; returns the copies that failed (they join the report)."""
        if self.request.in_place:
            return []
        copies = [FileResult(s.relpath, s.kind, Outcome.COPIED) for s in ignored]
        for copy in copies:
            self._guarded(copy, lambda: write_file(self.request.source, self.dst, copy))
        return [c for c in copies if c.outcome is Outcome.ERROR]

    def _guarded(self, result: FileResult, write: Callable[[], None], generated: str | None = None) -> None:
        try:
            write()
        except OSError as exc:
            self._failed(result, exc, generated)

    def _failed(self, result: FileResult, exc: OSError, generated: str | None) -> None:
        detail = f"{generated}: {exc}" if generated else str(exc)
        result.findings.append(input_finding(self.request.ruleset, "write-failed", detail))
        result.findings[-1].path = result.path
        if generated is None:
            result.error = f"write failed: {exc}"
            result.outcome = Outcome.ERROR


def _start_output(root: Path) -> Path:
    try:
        return mark_incomplete(root)
    except OSError as exc:
        raise UsageError(f"cannot write to {root}: {exc}") from exc


def _parity_suite(request: PortRequest, results: list[FileResult], out_dir: Path, check: CaseCheck) -> str | None:
    """The parity suite, taken from the result cache when neither the Python sources nor porter nor the rules
    changed since it was generated (with the findings its generation added). Its generation reads and checks the
    whole repository: without this it cost a warm run more than everything else together."""
    from porter.parity.suite import CONFIG, TEMPLATES, USER_MODULE

    cache_dir = request.options.cache_dir
    if cache_dir is None:
        return _generate_parity_suite(request, results, out_dir, check)
    key = _suite_key(request, results)
    payload = cache.load_payload(cache_dir, key)
    if payload is not None:
        try:
            entry = json.loads(payload)
            added = {path: [Finding.from_dict(f) for f in findings] for path, findings in entry["findings"].items()}
            files = {name: base64.b64decode(data) for name, data in entry["files"].items()}
        except (ValueError, KeyError, TypeError):
            entry = None
        if entry is not None:
            for name, data in files.items():
                if name != f"{USER_MODULE}.py" or not (out_dir / name).exists():  # the user's cases survive
                    write_atomic(out_dir / name, data)
            for result in results:
                result.findings.extend(added.get(result.path, ()))
            return entry["suite"]
    counts = {id(result): len(result.findings) for result in results}
    suite = _generate_parity_suite(request, results, out_dir, check)
    from porter.parity.converted_cases import MODULE as CONVERTED_MODULE  # loads the transforms: not on a cache hit

    names = [CONFIG, *TEMPLATES, f"{USER_MODULE}.py", f"{CONVERTED_MODULE}.py"]
    entry = {"suite": suite,
             "files": {n: base64.b64encode((out_dir / n).read_bytes()).decode() for n in names if (out_dir / n).is_file()},
             "findings": {r.path: [f.to_dict() for f in r.findings[counts.get(id(r), 0):]]
                          for r in results if len(r.findings) > counts.get(id(r), 0)}}
    cache.store_payload(cache_dir, key, json.dumps(entry).encode())
    return suite


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")  # the generated cases are checked by running them
    except importlib.metadata.PackageNotFoundError:
        return ""


class _SuiteMemo:
    """The parity suite's per-file facts and per-case checks, in the result cache (porter.parity.suite.Memo)."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.salt = directory, f"parity\0{cache.code_hash()}\0{_torch_version()}\0"

    def _key(self, key: str) -> str:
        return hashlib.sha256((self.salt + key).encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        return cache.load_payload(self.directory, self._key(key))

    def put(self, key: str, data: bytes) -> None:
        cache.store_payload(self.directory, self._key(key), data)


def _suite_key(request: PortRequest, results: list[FileResult]) -> str:
    salt = f"parity-suite\0{cache.code_hash()}\0{request.ruleset.content_hash}\0{_torch_version()}\0"
    digest = hashlib.sha256(salt.encode())
    for result in sorted(results, key=lambda r: r.path):
        if result.kind == "python" and result.outcome is not Outcome.ERROR:
            try:
                data = (request.source / result.path).read_bytes()
            except OSError:
                continue
            digest.update(f"{result.path}\0{hashlib.sha256(data).hexdigest()}\0".encode())
        for generated in sorted(result.generated):
            digest.update(f"generated\0{generated}\0".encode())
    return digest.hexdigest()


def _generate_parity_suite(request: PortRequest, results: list[FileResult], out_dir: Path,
                           check: CaseCheck) -> str | None:
    from porter.kernels import parity_modules
    from porter.parity.analyze import facts_from_json
    from porter.parity.converted_cases import converted_cases, write_module
    from porter.parity.suite import generate_suite

    python = [result for result in results if result.kind == "python" and result.outcome is not Outcome.ERROR]
    facts = {result.path: facts_from_json(result.facts) for result in python if result.facts is not None}
    converting = {rule.id for rule in request.ruleset.of_kind("fusion", "call_transform")}
    conversions = [(result.path, finding) for result in python for finding in result.findings
                   if finding.rule_id in converting and finding.replacement]
    sources = {}
    for path in dict.fromkeys(path for path, _ in conversions):
        try:
            sources[path] = (request.source / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    converted = write_module(out_dir, converted_cases(conversions, sources))
    generated = parity_modules(path for result in results for path in result.generated)
    memo = _SuiteMemo(request.options.cache_dir) if request.options.cache_dir is not None else None
    suite = generate_suite(facts, out_dir, modules=(*converted, *generated), memo=memo, check=check)
    _report_dropped_cases(request.ruleset, suite.dropped, results)
    return str(out_dir) if suite.cases or converted else None


def _read_facts(relpath: str, text: str) -> bytes:
    """The parity suite's facts of a Python file the port reads (porter.parity.analyze, which loads libcst's
    helpers): imported here, so that a run the cache answers loads neither."""
    from porter.parity.analyze import facts_json

    return facts_json(relpath, text)


def _report_dropped_cases(ruleset: RuleSet, dropped: list[dict], results: list[FileResult]) -> None:
    """A generated case that could not run is a finding at the use it was generated from."""
    by_path = {result.path: result for result in results}
    rules = [(rule, entry) for rule in ruleset.of_kind("parity_case") for entry in rule.entries
             if entry.pattern == "case-cannot-run"]
    for case in dropped:
        path, _, line = (case.get("source") or "").rpartition(":")
        if path in by_path and line.isdigit():
            span = Span(int(line), 1, int(line), 1)
            by_path[path].findings.extend(entry_finding(rule, entry, span, detail=f"case {case['name']}: {case['error']}")
                                          for rule, entry in rules)


def run(request: PortRequest, on_start: Callable[[int], None] = lambda _n: None,
        on_result: Callable[[FileResult], None] = lambda _r: None,
        on_diff: Callable[[str], None] | None = None) -> Report:
    """Port (or analyse) a tree. An output is marked incomplete before anything else is written and unmarked after
    everything else, so an interrupted run leaves a marked output, which the next run replaces."""
    check_request(request)
    report_dir = request.report_dir or ((request.output or request.source) / REPORT_DIR_NAME)  # analyze passes one
    skip = tuple(p for p in (request.output, report_dir) if p is not None and _is_inside(p, request.source))
    out_root = request.source if request.in_place else request.output
    marker = None if out_root is None or request.dry_run else _start_output(out_root)
    keep_ignored = request.output is not None and not request.skip_ignored
    writes_suite = request.parity and marker is not None  # the parity suite reads each Python file's facts
    with CheckProcess() as checker:
        if writes_suite:
            checker.start()  # torch is imported beside the run, on the core its serial steps leave idle
        found, skipped = discover(request.source, request.include, request.exclude, request.respect_gitignore, skip,
                                  keep_ignored)
        sources = [s for s in found if not s.ignored]
        ignored = [s for s in found if s.ignored]
        on_start(len(sources))
        repo_backends, npu_evidence = backend_support.scan(request.source, sources, request.ruleset,
                                                               request.options.cache_dir)
        options = dataclasses.replace(request.options, local_modules=local_modules(sources),
                                      repo_backends=repo_backends, read_facts=_read_facts if writes_suite else None)
        report = Report(__version__, request.ruleset.content_hash, request.ruleset.target, str(request.source),
                        None if request.output is None else str(request.output), [],
                        ignored_copied=len(ignored), skipped=skipped,
                        backend_support=backend_support.support_summary(request.ruleset, repo_backends, npu_evidence))
        writer = None
        if marker is not None:
            report.incomplete = True  # what a reader finds if the run is interrupted
            early_formats = tuple(f for f in request.formats if f in ("json", "md"))
            _write_report(report, report_dir, request, formats=early_formats)
            writer = _TreeWriter(request)

        def ported(result: FileResult) -> None:
            if result.diff is not None and on_diff is not None:
                on_diff(result.diff)
            if writer is not None:
                writer.write(result)
            on_result(result)

        report.files = port_files(request.source, sources, request.ruleset, options, ported)
        if options.cache_dir is not None:
            cache.evict(options.cache_dir, options.cache_max_bytes)
        if request.dry_run:
            return report
        if writer is not None:
            failed_copies = writer.copy_ignored(ignored)
            report.files.extend(failed_copies)
            report.ignored_copied -= len(failed_copies)
            if writes_suite:
                report.parity_suite = _parity_suite(request, report.files, out_root / "parity", checker.check)
            report.incomplete = False
    _write_report(report, report_dir, request, rule_pages=True)
    if marker is not None:
        marker.unlink(missing_ok=True)
    return report


def _write_report(report: Report, report_dir: Path, request: PortRequest, rule_pages: bool = False,
                  formats: tuple[str, ...] | None = None) -> None:
    used = {f.rule_id for f in report.findings}
    try:
        write_reports(report, report_dir, request.formats if formats is None else formats, request.options.cache_dir)
        if rule_pages:
            write_rule_pages([rule for rule in request.ruleset.rules if rule.id in used], report_dir / "rules")
    except OSError as exc:
        raise UsageError(f"cannot write the report to {report_dir}: {exc}") from exc


def fail_on_hit(report: Report, threshold: str) -> bool:
    """True when a finding at or above the --fail-on threshold exists, or (any threshold but never) a parity case did not pass."""
    levels = {"never": set(), "unsupported": {"unsupported"}, "review": {"unsupported", "review", "unknown"}}
    if threshold != "never" and any(p.status != "pass" for p in report.parity or []):
        return True
    return any(f.status.value in levels[threshold] for f in report.findings)

