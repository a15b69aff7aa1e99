"""Porting file contents: each file kind's frontend, run per file (a pure function) in a process pool.

The pipeline around it (discover -> port -> write -> report) is `porter/pipeline.py`."""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from porter.backend_support import left_to_its_backend
from porter.cache import DEFAULT_MAX_BYTES as DEFAULT_CACHE_MAX_BYTES, cache_key, load, store
from porter.discover import SourceFile
from porter.findings import FileResult, Finding, Outcome, entry_finding
from porter.native import NATIVE_KINDS, port_native
from porter.native.cmake import port_build
from porter.ruleset import RuleSet
from porter.text_frontend import port_text_file
from porter.lossless_io import DecodedSource, UndecodableError, decode_python, looks_binary
from porter.workers import fewer_collections, worker_pool

DEFAULT_MAX_FILE_SIZE = 4 * 1024 * 1024
PARALLEL_THRESHOLD = 64  # below this many files a process pool costs more than it saves
CHUNK = 8  # files per task: small enough that the workers finish together on a small tree (a 115-file one: 0.3 s)

FactsReader = Callable[[str, str], bytes]  # (relpath, text) -> what a later step needs from that Python file


@dataclass(frozen=True)
class PortOptions:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = os.cpu_count() or 1
    local_modules: frozenset[str] = frozenset()  # the repository's own top-level modules: never "third party"
    repo_backends: frozenset[str] = frozenset()  # other backends the repository names (porter.backend_support)
    cache_dir: Path | None = None  # where per-file results are cached (None: no cache)
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES  # least recently used entries beyond this are evicted
    read_facts: FactsReader | None = None  # run on every decodable Python file's text where it is ported (it is
    # already read and decoded there): FileResult.facts, cached with the result. A module-level function, so that
    # it reaches the pool's workers


def input_finding(ruleset: RuleSet, problem: str, detail: str = "") -> Finding:
    """A finding for a file-level problem, worded by the `input` rule's data."""
    for rule in ruleset.of_kind("input"):
        for entry in rule.entries:
            if entry.pattern == problem:
                return entry_finding(rule, entry, detail=detail)
    raise KeyError(f"no input rule entry for {problem!r}")


_SCANNED: dict[str, frozenset[str]] = {}


def _scanned_kinds(ruleset: RuleSet) -> frozenset[str]:
    """The file kinds some rule reads (the rest are copied unread), derived once per rule set."""
    kinds = _SCANNED.get(ruleset.content_hash)
    if kinds is None:
        rules_kinds = (r.contexts.get("kinds", ()) for r in ruleset.of_kind("text_residual", "env_var"))
        native = {"native"} if ruleset.of_kind(*NATIVE_KINDS) else set()
        kinds = _SCANNED[ruleset.content_hash] = frozenset({"python", *native}.union(*rules_kinds))
    return kinds


def _port_python_file(relpath: str, data: bytes, ruleset: RuleSet, local_modules: frozenset[str],
                      repo_backends: frozenset[str] = frozenset(), read_facts: FactsReader | None = None) -> FileResult:
    if looks_binary(data):
        return FileResult(relpath, "python", Outcome.ERROR, [input_finding(ruleset, "binary")], "binary content")
    try:
        decoded = decode_python(data)
    except UndecodableError as exc:
        return FileResult(relpath, "python", Outcome.ERROR, [input_finding(ruleset, "undecodable", str(exc))], str(exc))
    result = _port_python_text(relpath, decoded, ruleset, local_modules, repo_backends)
    if read_facts is not None:
        try:
            result.facts = read_facts(relpath, decoded.text)
        except Exception:  # noqa: BLE001 - a reader that fails costs its step this file's facts, never the port
            pass
    return result


def _port_python_text(relpath: str, decoded: DecodedSource, ruleset: RuleSet, local_modules: frozenset[str],
                      repo_backends: frozenset[str]) -> FileResult:
    import libcst as cst  # the frontend is loaded when a file is ported, not for a run the cache answers

    from porter.python import ModuleContext, port_python
    from porter.python.prefilter import might_need_porting

    if not might_need_porting(ruleset, decoded.text):
        return FileResult(relpath, "python", Outcome.UNCHANGED)
    try:
        new_text, findings = port_python(decoded.text, ruleset, local_modules, ModuleContext(relpath, repo_backends))
    except cst.ParserSyntaxError as exc:
        detail = f"line {exc.raw_line}: {exc.message.splitlines()[0][:100]}"
        return FileResult(relpath, "python", Outcome.ERROR, [input_finding(ruleset, "syntax-error", detail)], detail)
    except Exception as exc:  # noqa: BLE001 - one file porter cannot handle must never stop the run
        detail = f"{type(exc).__name__}: {exc}"[:300]
        return FileResult(relpath, "python", Outcome.ERROR, [input_finding(ruleset, "internal-error", detail)], detail,
                          porter_failed=True)
    if new_text is not None:
        return FileResult(relpath, "python", Outcome.CONVERTED, findings, new_bytes=decoded.encode(new_text))
    return FileResult(relpath, "python", Outcome.FLAGGED if findings else Outcome.UNCHANGED, findings)


@dataclass(frozen=True)
class FrontendContext:
    """What a frontend may need beyond the file and the rules."""

    kind: str
    local_modules: frozenset[str] = frozenset()
    repo_backends: frozenset[str] = frozenset()
    read_facts: FactsReader | None = None


def _python_frontend(relpath: str, data: bytes, ruleset: RuleSet, context: FrontendContext) -> FileResult:
    return _port_python_file(relpath, data, ruleset, context.local_modules, context.repo_backends, context.read_facts)


def _text_frontend(relpath: str, data: bytes, ruleset: RuleSet, context: FrontendContext) -> FileResult:
    return port_text_file(relpath, context.kind, data, ruleset)


Frontend = Callable[[str, bytes, RuleSet, FrontendContext], FileResult]
FRONTENDS: dict[str, Frontend] = {"python": _python_frontend, "native": port_native, "build": port_build}  # others: text


def port_bytes(relpath: str, kind: str, data: bytes, ruleset: RuleSet,
               local_modules: frozenset[str] = frozenset(), repo_backends: frozenset[str] = frozenset(),
               read_facts: FactsReader | None = None) -> FileResult:
    """Port one file's content with the frontend registered for its kind."""
    frontend = FRONTENDS.get(kind, _text_frontend)
    result = frontend(relpath, data, ruleset, FrontendContext(kind, local_modules, repo_backends, read_facts))
    if kind != "python" and (result.findings or result.new_bytes is not None):  # Python judges this itself
        return left_to_its_backend(result, ruleset) or result
    return result


def port_file(root: Path, source: SourceFile, ruleset: RuleSet, options: PortOptions) -> FileResult:
    """Port one file. Pure apart from reading it: safe to run in any process, in any order."""
    ready = _ready(root, source, ruleset, options)
    if isinstance(ready, FileResult):
        return ready
    data, key = ready
    result = port_bytes(source.relpath, source.kind, data, ruleset, options.local_modules, options.repo_backends,
                        options.read_facts)
    if result.outcome is Outcome.CONVERTED:
        result.diff = unified_diff(source.relpath, data, result.new_bytes)
    if key is not None and not result.porter_failed:  # an input porter cannot read fails the same way every time
        store(options.cache_dir, key, result)
    for finding in result.findings:
        finding.path = source.relpath
    return result


def ready_result(root: Path, source: SourceFile, ruleset: RuleSet, options: PortOptions) -> FileResult | None:
    """The file's result where nothing needs porting: a symlink, a file porter copies, one it cannot read, or a hit
    in the result cache; else None."""
    ready = _ready(root, source, ruleset, options)
    return ready if isinstance(ready, FileResult) else None


def _ready(root: Path, source: SourceFile, ruleset: RuleSet,
           options: PortOptions) -> FileResult | tuple[bytes, str | None]:
    """`ready_result`'s result, or the file's bytes and its cache key (None: no cache) to port it."""
    if source.kind == "symlink":
        target = (root / source.relpath).resolve()
        inside = target.exists() and target.is_relative_to(root.resolve())
        findings = [] if inside else [input_finding(ruleset, "symlink", "dangling or pointing outside the tree")]
        return FileResult(source.relpath, "symlink", Outcome.COPIED, findings)
    if not source.port or source.kind not in _scanned_kinds(ruleset):
        return FileResult(source.relpath, source.kind, Outcome.COPIED)
    path = root / source.relpath
    try:
        size = path.stat().st_size
        if size > options.max_file_size:
            finding = input_finding(ruleset, "too-large", f"{size} bytes")
            return FileResult(source.relpath, source.kind, Outcome.ERROR, [finding], "too large")
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(source.relpath, source.kind, Outcome.ERROR,
                          [input_finding(ruleset, "unreadable", str(exc))], str(exc))
    if options.cache_dir is None:
        return data, None
    reader = _name_of(options.read_facts) if source.kind == "python" else ""  # only Python results carry facts
    key = cache_key(ruleset.content_hash, options.local_modules, source.kind, data, source.relpath,
                    options.repo_backends, reader)
    cached = load(options.cache_dir, key, source.relpath)
    return (data, key) if cached is None else cached


def _name_of(function: Callable | None) -> str:
    return "" if function is None else f"{function.__module__}.{function.__qualname__}"


def unified_diff(relpath: str, old: bytes, new: bytes) -> str:
    """What the report shows of a converted file; computed where it is ported, so the cache keeps it too."""
    before = old.decode("utf-8", errors="replace").splitlines(keepends=True)
    after = new.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{relpath}", f"b/{relpath}"))


def _port_chunk(root: Path, chunk: list[SourceFile], ruleset: RuleSet, options: PortOptions) -> list[FileResult]:
    return [port_file(root, source, ruleset, options) for source in chunk]


def port_files(
    root: Path, sources: list[SourceFile], ruleset: RuleSet, options: PortOptions,
    on_result: Callable[[FileResult], None] = lambda _r: None,
) -> list[FileResult]:
    """Port every file, in parallel when the tree is big enough; results come back in input order."""
    with fewer_collections():
        return list(_port_each(root, sources, ruleset, options, on_result))


def _port_each(root: Path, sources: list[SourceFile], ruleset: RuleSet, options: PortOptions,
               on_result: Callable[[FileResult], None]) -> Iterator[FileResult]:
    ready: list[FileResult | None] = []
    if options.cache_dir is not None:  # looked up here, not in the workers: a run the cache answers starts none
        misses = 0
        for source in sources:
            if misses == PARALLEL_THRESHOLD:
                break  # a cold run: the workers look up the rest
            ready.append(ready_result(root, source, ruleset, options))
            misses += ready[-1] is None
    ready += [None] * (len(sources) - len(ready))
    ported = _ported(root, [source for source, result in zip(sources, ready) if result is None], ruleset, options)
    for result in ready:
        if result is None:
            result = next(ported)
        on_result(result)
        yield result


def _ported(root: Path, sources: list[SourceFile], ruleset: RuleSet, options: PortOptions) -> Iterator[FileResult]:
    if options.jobs <= 1 or len(sources) < PARALLEL_THRESHOLD:
        yield from (port_file(root, source, ruleset, options) for source in sources)
        return
    if any(source.kind == "python" for source in sources):
        from porter.python import frontend  # noqa: F401 - once here, before the workers fork, not once in each
    with worker_pool(options.jobs) as pool:
        port_chunk = functools.partial(_port_chunk, root, ruleset=ruleset, options=options)
        for chunk_results in pool.imap(port_chunk, _chunks(sources, CHUNK)):
            yield from chunk_results


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

