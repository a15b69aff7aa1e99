"""A parity suite on disk: ``parity.yaml`` (+ user case modules) to load, and the generator that writes it."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import yaml

import porter
from porter.parity import catalog
from porter.parity.cases import Case, CaseError, declared_in, forget_declared
from porter.templating import render
from porter.lossless_io import write_atomic

if TYPE_CHECKING:  # the analyzer loads libcst's helpers: only a run that generates the suite imports it
    from porter.parity.analyze import Analysis, FileFacts

CONFIG = "parity.yaml"
USER_MODULE = "user_cases"
MAX_ELEMENTS = 1 << 20  # per tensor: keeps a generated golden set small and a CPU run quick
MAX_DISTINCT_COLS = 4096  # topk rows must be tie-free; fp16/bf16 hold ~15k distinct values above 1.0
MAX_SEQ = 128
SMOKE_ELEMENTS = 1 << 12  # per tensor, for the check that every generated case runs
MAX_SHAPES_PER_OP = 6
COLLECTIVE_WORLD_SIZES = (1, 2)
TEMPLATES = {"test_parity.py": "parity_test.py.j2", "conftest.py": "parity_conftest.py.j2"}
USER_TEMPLATE = "parity_user_cases.py.j2"


class SuiteError(ValueError):
    """A suite that cannot be loaded: the message names the file and the problem."""


@dataclass
class Suite:
    directory: Path
    cases: list[Case] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def importable(self):
        """The suite directory and the repository above it on sys.path, for 'module:function' names."""
        added = [str(p) for p in (self.directory, self.directory.parent) if str(p) not in sys.path]
        sys.path[:0] = added
        try:
            yield
        finally:
            for entry in added:
                sys.path.remove(entry)


def load_suite(path: Path) -> Suite:
    directory = path.parent if path.is_file() else path
    config = directory / CONFIG
    try:
        data = yaml.safe_load(config.read_text())
    except FileNotFoundError:
        raise SuiteError(f"no {CONFIG} in {directory}: is this a parity suite (written by `porter port`)?") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{config} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise SuiteError(f"{config}: expected a mapping with 'version: 1'")
    suite = Suite(directory.resolve(), modules=list(data.get("modules") or []))
    try:
        suite.cases = [Case.from_dict(c, where=f"{config}: case #{i + 1}") for i, c in enumerate(data.get("cases") or [])]
        with suite.importable():
            for module in suite.modules:
                suite.cases.extend(_declared_cases(module, suite.directory))
    except CaseError as exc:
        raise SuiteError(str(exc)) from None
    names = [c.name for c in suite.cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"{config}: duplicate case name(s) {', '.join(duplicates)}")
    return suite


def _declared_cases(module: str, directory: Path) -> list[Case]:
    """Import a user module (fresh when another suite's module of that name was loaded) and take its cases."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if loaded is not None and (origin is None or Path(origin).resolve().parent != directory):
        del sys.modules[module]
        forget_declared(module)
    importlib.invalidate_caches()
    try:
        importlib.import_module(module)
    except Exception as exc:  # the user's module: any error it raises is theirs to see
        raise SuiteError(f"cannot import case module {module!r}: {type(exc).__name__}: {exc}") from None
    return declared_in(module)


class GeneratedSuite(NamedTuple):
    cases: list[dict]  # as parity.yaml holds them
    dropped: list[dict]  # cases that could not run once on the CPU: name, op, source ("path:line"), error


CaseCheck = Callable[[Case, dict], "str | None"]  # check_case, or the same run elsewhere (check_process)


class Memo(Protocol):
    """Where generation keeps what it can reuse across runs (porter.pipeline: the result cache)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


def generate_suite(facts: Mapping[str, FileFacts | None], out_dir: Path, modules: tuple[str, ...] = (),
                   memo: Memo | None = None, check: CaseCheck | None = None) -> GeneratedSuite:
    """Write ``out_dir`` (parity.yaml, test_parity.py, conftest.py, user_cases.py) for a repository.

    ``facts``: relative path -> facts of each of the original repository's Python files (``analyze.file_facts``:
    read, never run). ``modules``: more case modules to list in parity.yaml (``porter.kernels.parity_modules``:
    the custom-op cases generated beside ported CUDA kernels), importable from the ported tree's root.
    ``memo``: each case's check is kept there, so a re-run runs only cases that changed.
    Returns the cases written, and those dropped because they could not run.
    """
    from porter.parity.analyze import analyze

    tiny: dict[str, dict] = {}
    analysis = analyze(facts)
    cases, dropped = check_cases(cases_from(analysis, tiny), tiny, memo, check)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [c.to_yaml() for c in cases]
    header = f"# Generated by porter {porter.__version__} (parity suite config): edit freely, see porter's docs/parity.md.\n"
    config = {"version": 1, "modules": [USER_MODULE, *modules], "cases": records}
    if dropped:
        config["dropped"] = dropped  # generated cases that could not run once on the CPU (not loaded)
    body = yaml.safe_dump(config, sort_keys=False, width=120)
    write_atomic(out_dir / CONFIG, (header + body).encode())
    for filename, template in TEMPLATES.items():
        write_atomic(out_dir / filename, render(template).encode())
    if not (out_dir / f"{USER_MODULE}.py").exists():  # the user's own cases survive a re-port
        write_atomic(out_dir / f"{USER_MODULE}.py", render(USER_TEMPLATE).encode())
    return GeneratedSuite(records, dropped)


def check_cases(cases: list[Case], tiny: dict[str, dict], memo: Memo | None = None,
                check: CaseCheck | None = None) -> tuple[list[Case], list[dict]]:
    """Run every case once on the CPU at a tiny size (``tiny``: case name -> its inputs at that size).

    A case that cannot run is a generator bug, never the user's to record: it is dropped and listed.
    Without torch (porting does not need it) the cases are kept unchecked. ``memo`` keeps each case's outcome
    by everything that decides it; torch is not even imported when every outcome is known.
    """
    kept, dropped = [], []
    for case in cases:
        if case.kind.family == "collective" or case.name not in tiny:
            kept.append(case)
            continue
        key = "check\0" + json.dumps([case.to_yaml(), tiny[case.name]], sort_keys=True)
        known = memo.get(key) if memo is not None else None
        if known is not None:
            error = known.decode() or None
        else:
            try:
                error = (check or check_case)(case, tiny[case.name])
            except ImportError:
                return cases, []
            if memo is not None:
                memo.put(key, (error or "").encode())
        if error is None:
            kept.append(case)
        else:
            dropped.append({"name": case.name, "op": case.op, "source": case.source, "error": error[:300]})
    return kept, dropped


def check_case(case: Case, tiny: dict) -> str | None:
    """The error of a case that cannot run once on the CPU, or None; ImportError without torch."""
    from porter.parity import runner

    small = Case(name=case.name, op=case.op, dtype=case.dtype, seed=case.seed, inputs=_specs(tiny),
                 params=case.params, backward=case.backward)
    error = _run_once(runner, small)
    if error is not None:  # shrinking can break a valid case (a kernel wider than a tiny image): try its own size
        error = _run_once(runner, case)
    return error


def _run_once(runner, case: Case) -> str | None:
    try:
        runner.run(case, runner.make_inputs(case), "cpu", "reference")
    except Exception as exc:  # any failure of a generated case is reported, not raised
        return f"{type(exc).__name__}: {exc}"
    return None


def cases_from(analysis: Analysis, tiny: dict[str, dict] | None = None) -> list[Case]:
    """Cases for every distinct use of an op (up to a few shapes per op) in each dtype the code uses.

    ``tiny``, when given, receives each case's inputs at a tiny size (for ``check_cases``).
    """
    distinct: dict[tuple, tuple[str, dict, dict, list[str]]] = {}
    per_op: dict[str, int] = {}
    for usage in analysis.usages:
        if per_op.get(usage.op, 0) >= MAX_SHAPES_PER_OP:
            continue
        dims = {**_model_defaults(usage.op, analysis.sizes), **usage.dims}
        params = dict(usage.params)
        if "equation" in params:
            dims["equation"] = params["equation"]
        if usage.op.startswith("conv"):
            params.update({k: dims[k] for k in ("stride", "padding", "dilation", "groups") if k in dims})
        try:
            inputs, notes = _fit(usage.op, dict(dims))
        except catalog.CatalogError:
            continue
        notes += _make_runnable(usage.op, inputs, params)
        key = (usage.op, json.dumps(inputs, sort_keys=True), json.dumps(params, sort_keys=True))
        if key in distinct:
            continue
        try:  # the inputs at the size each case is first checked at (only for a use that makes a new case)
            small, _ = _fit(usage.op, dict(dims), SMOKE_ELEMENTS)
        except catalog.CatalogError:
            continue
        per_op[usage.op] = per_op.get(usage.op, 0) + 1
        _make_runnable(usage.op, small, dict(params))
        distinct[key] = (usage.where, inputs, params, notes, small)
    cases, names = [], set()
    for (op, _, _), (where, inputs, params, notes, small) in distinct.items():
        family = catalog.kind(op).family
        dtypes = ["fp32"] if family == "optimizer" else analysis.dtypes
        world_sizes = COLLECTIVE_WORLD_SIZES if family == "collective" else (None,)
        for world in world_sizes:
            for dtype in dtypes:
                case_params = dict(params) if world is None else {**params, "world_size": world}
                name = _unique(_name(op, inputs, dtype, world), names)
                cases.append(Case(name=name, op=op, dtype=dtype, inputs=_specs(inputs), params=case_params,
                                  source=where, note="; ".join(notes) or None))
                if tiny is not None:
                    tiny[name] = small
    return cases


def _make_runnable(op: str, inputs: dict, params: dict) -> list[str]:
    """Fix in place what the sizes found make impossible; returns notes saying what changed."""
    notes = []
    if op == "topk" and "k" in params:
        cols = _shape(inputs["x"])[-1]
        if params["k"] > cols:
            notes.append(f"k {params['k']} -> {cols}: at most the {cols} columns kept")
            params["k"] = cols
    if op in ("layer_norm", "rms_norm") and _shape(inputs["x"])[-1] == 1:
        inputs["x"] = {"shape": _shape(inputs["x"]), "requires_grad": False}
        notes.append("a one-element normalisation is constant in x: no gradient of x to compare")
    return notes


def _shape(spec) -> list[int]:
    return spec["shape"] if isinstance(spec, dict) else spec


def _model_defaults(op: str, sizes: dict) -> dict:
    """Sizes a call does not spell, taken from the model's own config constants where found."""
    hidden, heads, vocab = sizes.get("hidden"), sizes.get("heads"), sizes.get("vocab")
    seq = min(sizes.get("seq", MAX_SEQ), MAX_SEQ)
    dims = {"seq": seq}
    if hidden:
        dims.update(hidden=hidden, in_features=hidden, out_features=hidden, embedding_dim=hidden)
    if hidden and heads and hidden % heads == 0:
        dims.update(heads=heads, head_dim=hidden // heads)
    if op in ("softmax", "log_softmax"):
        dims.update(cols=seq, rows=(heads or 16) * seq)
    if vocab:
        dims.update(num_embeddings=vocab, classes=vocab)
        if op == "topk":
            dims["cols"] = min(vocab, MAX_DISTINCT_COLS)
    return dims


def _fit(op: str, dims: dict, max_elements: int = MAX_ELEMENTS) -> tuple[dict, list[str]]:
    """Inputs for ``dims``, halving sizes that are not summed over until every tensor fits ``max_elements``."""
    kind = catalog.kind(op)
    reduction = set(kind.reduction_dims)
    if op == "einsum":
        lhs, _, rhs = dims.get("equation", kind.dims["equation"]).partition("->")
        reduction = {letter for letter in lhs if letter not in rhs and letter != "," and not letter.isspace()}
    original = dict(dims)
    fixed = {"stride", "padding", "groups", "kernel_size", "bias", "equation", "dilation"}
    while True:
        inputs = catalog.build_inputs(op, dims)
        largest = max((_numel(spec) for spec in inputs.values()), default=0)
        shrinkable = {k: v for k, v in {**kind.dims, **dims}.items()
                      if k not in reduction and k not in fixed and isinstance(v, int) and not isinstance(v, bool) and v > 1}
        if largest <= max_elements or not shrinkable:
            break
        defaults_only = {k: v for k, v in shrinkable.items() if k not in original}  # batch before the model's sizes
        name = max(defaults_only or shrinkable, key=(defaults_only or shrinkable).get)
        dims[name] = (shrinkable[name] + 1) // 2
    notes = [f"{k} {original[k]} -> {dims[k]} to fit {max_elements} elements per tensor"
             for k in original if original[k] != dims.get(k)]
    return inputs, notes


def _numel(spec) -> int:
    shape = _shape(spec)
    total = 1
    for n in shape:
        total *= n
    return total


def _specs(inputs: dict) -> dict:
    from porter.parity.cases import InputSpec

    return {k: InputSpec.parse(v, k) for k, v in inputs.items()}


def _name(op: str, inputs: dict, dtype: str, world: int | None) -> str:
    if world is not None:
        return f"{op}_ws{world}_{dtype}"
    main = inputs.get("weight") or next(iter(inputs.values()), [])
    shape = main["shape"] if isinstance(main, dict) else main
    return f"{op}_{'x'.join(map(str, shape))}_{dtype}"


def _unique(name: str, taken: set) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate
