"""porter.python.walk: the read-only walk makes libcst's batched calls, in libcst's order, on the same nodes."""

import dataclasses
import functools
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ScopeProvider

from porter.python.frontend import parse_unchecked
from porter.python.walk import _is_trivia, _read_only_visit, _Rewriter, read_only_visits, rewritten, visit_batched

ROOT = Path(__file__).resolve().parent.parent
NODE_CLASSES = [c for c in vars(cst).values()
                if isinstance(c, type) and issubclass(c, cst.CSTNode) and dataclasses.is_dataclass(c)]
TRICKY = '''
@decorator(x=1)
async def f(a, /, b: int = 2, *args, c, **kw) -> "T":
    async with ctx() as (p, q):
        async for i in g():
            yield (lambda y: y ** 2)(i)
    match a:
        case [1, *rest] | {"k": _} if b:
            pass
        case Point(x=0):
            return f"{a!r:>{b}} {{}}"
    global G; nonlocal_ = [j for j in range(3) if j] + {k: v for k, v in {}.items()}
    try:
        del a[1:2, ::3]
    except* (ValueError, TypeError) as e:
        raise RuntimeError from e
    finally:
        x: list[int] = (yield)
    while (n := len(kw)) > 0:
        n -= 1; break
    else:
        assert not n, "message"
class C(Base, metaclass=M):  # comment
    """doc"""
    type Alias[T] = list[T]
    def g[U](self) -> U: ...
print(*a, **{'b': 1}, sep='' 'x', end=b'\\n'), ~x if x else -x; import a.b as c; from . import (d, e)
'''


class Recorder(cst.BatchableCSTVisitor):
    """Records every call a batched walk makes on the given node classes, with the node it was made on."""

    def __init__(self, classes) -> None:
        super().__init__()
        self.calls = []
        self.names = [f"{when}_{cls.__name__}{suffix}"
                      for cls in classes
                      for suffix in ["", *(f"_{f.name}" for f in dataclasses.fields(cls))]
                      for when in ("visit", "leave")]

    def get_visitors(self):
        return {name: (lambda node, name=name: self.calls.append((name, id(node)))) for name in self.names}


@functools.cache
def _sources() -> tuple:
    parsed = [("tricky", cst.parse_module(TRICKY))]
    for path in [*sorted((ROOT / "fixtures").rglob("*.py")), *sorted((ROOT / "porter" / "python").rglob("*.py"))]:
        try:
            parsed.append((path.name, cst.parse_module(path.read_text(encoding="utf-8", errors="replace"))))
        except cst.ParserSyntaxError:
            continue  # fixtures of unreadable input
    return tuple(parsed)


@pytest.mark.parametrize("classes", [NODE_CLASSES, [c for c in NODE_CLASSES if not _is_trivia(c)]],
                         ids=["every node class", "trivia left out"])
def test_the_walk_makes_libcsts_calls_in_libcsts_order(classes):
    compared = 0
    for name, module in _sources():
        theirs, ours = Recorder(classes), Recorder(classes)
        MetadataWrapper(module, unsafe_skip_copy=True).visit_batched([theirs])
        visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [ours])
        assert ours.calls == theirs.calls, name
        compared += len(theirs.calls)
    assert compared > 100_000


def test_whitespace_is_entered_when_a_visitor_asks_for_it():
    class Comments(cst.BatchableCSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen = []

        def visit_Comment(self, node: cst.Comment) -> None:
            self.seen.append(node.value)

    visitor = Comments()
    visit_batched(MetadataWrapper(cst.parse_module("x = (1,  # one\n     2)  # two\n")), [visitor])
    assert visitor.seen == ["# one", "# two"]


def test_the_walk_resolves_the_metadata_its_visitors_declare():
    class Lines(cst.BatchableCSTVisitor):
        METADATA_DEPENDENCIES = (cst.metadata.PositionProvider,)

        def __init__(self) -> None:
            super().__init__()
            self.lines = []

        def visit_Name(self, node: cst.Name) -> None:
            self.lines.append((node.value, self.get_metadata(cst.metadata.PositionProvider, node).start.line))

    visitor = Lines()
    visit_batched(MetadataWrapper(cst.parse_module("a = 1\n\nb = a\n")), [visitor])
    assert visitor.lines == [("a", 1), ("b", 3), ("a", 3)]


def test_without_libcsts_sources_libcsts_own_walk_runs(monkeypatch):
    def unreadable(cls):
        raise OSError("could not get source code")

    monkeypatch.setattr("porter.python.walk._order", unreadable)
    module = cst.parse_module(TRICKY)
    theirs, ours = Recorder(NODE_CLASSES), Recorder(NODE_CLASSES)
    MetadataWrapper(module, unsafe_skip_copy=True).visit_batched([theirs])
    visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [ours])
    assert ours.calls == theirs.calls and theirs.calls


class Every(cst.BatchableCSTVisitor):
    """Collects the nodes of some classes, in walk order."""

    def __init__(self, *classes) -> None:
        super().__init__()
        self.found = {cls: [] for cls in classes}

    def get_visitors(self):
        return {f"visit_{cls.__name__}": self.found[cls].append for cls in self.found}


def _rewrites(module: cst.Module) -> dict:
    """Renames, rewrites that see their rewritten inside, removals, splices and emptied statements, spread over the
    module."""
    every = Every(cst.Name, cst.Call, cst.SimpleStatementLine, cst.Arg, cst.ImportAlias)
    visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [every])
    found = every.found
    rewrites = {}
    for name in found[cst.Name][::7]:
        rewrites[id(name)] = lambda n: n.with_changes(value=n.value.upper())
    for call in found[cst.Call][::5]:
        rewrites[id(call)] = lambda c: c.with_changes(args=(*c.args, cst.Arg(cst.Name("e"), keyword=cst.Name("extra"))))
    lines = found[cst.SimpleStatementLine]
    for line in lines[3::11]:
        rewrites[id(line)] = lambda _: cst.RemovalSentinel.REMOVE
    for line in lines[5::13]:
        rewrites[id(line)] = lambda s: cst.FlattenSentinel([s, cst.parse_statement("spliced()\n")])
    for line in lines[7::17]:
        rewrites[id(line)] = lambda s: s.with_changes(body=())  # dropped from a body, as libcst drops it
    for arg in found[cst.Arg][::9]:
        rewrites[id(arg)] = lambda _: cst.RemovalSentinel.REMOVE
    return rewrites


def test_rewritten_is_what_libcsts_transformer_makes():
    compared = 0
    for name, module in _sources():
        rewrites = _rewrites(module)
        assert rewritten(module, rewrites).code == module.visit(_Rewriter(rewrites)).code, name
        compared += len(rewrites)
    assert compared > 5_000


def test_a_removal_only_libcst_can_place_goes_through_libcst():
    module = cst.parse_module("x = f(a)\nif y:\n    pass\n")
    every = Every(cst.If)
    visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [every])
    condition = every.found[cst.If][0].test
    rewrites = {id(condition): lambda _: cst.RemovalSentinel.REMOVE}
    with pytest.raises(TypeError):
        module.visit(_Rewriter(rewrites))  # libcst refuses to remove a required child
    with pytest.raises(TypeError):
        rewritten(module, rewrites)


def test_nodes_off_the_way_to_a_rewrite_are_kept_as_they_are():
    module = cst.parse_module("a = 1\nb = g(2)\n")
    every = Every(cst.Integer)
    visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [every])
    two = every.found[cst.Integer][1]
    new = rewritten(module, {id(two): lambda n: n.with_changes(value="3")})
    assert new.code == "a = 1\nb = g(3)\n"
    assert new.body[0] is module.body[0] and new is not module


class CallLog(cst.CSTVisitor):
    """Every call libcst makes on a visitor; children of function definitions are skipped, as visitors may."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def on_visit(self, node) -> bool:
        self.calls.append(("visit", id(node)))
        return not isinstance(node, cst.FunctionDef)

    def on_leave(self, original_node) -> None:
        self.calls.append(("leave", id(original_node)))

    def on_visit_attribute(self, node, attribute) -> None:
        self.calls.append(("visit", id(node), attribute))

    def on_leave_attribute(self, original_node, attribute) -> None:
        self.calls.append(("leave", id(original_node), attribute))


def test_read_only_visits_make_libcsts_calls_and_leave_transformers_alone():
    for name, module in _sources()[::3]:
        theirs, ours = CallLog(), CallLog()
        assert module.visit(theirs) is module
        with read_only_visits():
            assert module.visit(ours) is module
            renamed = module.visit(_Rewriter({id(module): lambda m: m.with_changes(header=())}))
        assert ours.calls == theirs.calls, name
        assert renamed is not module
    assert cst.CSTNode.visit is not _read_only_visit  # put back


def _scope_facts(module: cst.Module) -> list:
    """Scope, assignments and qualified names of every name of the module (not of the names libcst parses out of
    string annotations: new nodes on every run)."""
    every = Every(cst.Name)
    visit_batched(MetadataWrapper(module, unsafe_skip_copy=True), [every])
    names = {id(name) for name in every.found[cst.Name]}
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    facts = []
    for node, scope in scopes.items():
        if id(node) in names and scope is not None:
            facts.append((id(node), type(scope).__name__, id(getattr(scope, "node", None)),
                          sorted(id(getattr(a, "node", None)) for a in scope[node.value]),
                          sorted(q.name for q in scope.get_qualified_names_for(node))))
    return sorted(facts)


def test_the_scope_analysis_reads_the_same_scopes_without_rebuilding():
    compared = 0
    for name, module in _sources()[::2]:
        theirs = _scope_facts(module)
        with read_only_visits():
            assert _scope_facts(module) == theirs, name
        compared += len(theirs)
    assert compared > 5_000


def test_the_unchecked_parse_gives_libcsts_tree_and_libcsts_errors():
    sources = [TRICKY, *(p.read_text(encoding="utf-8", errors="replace")
                         for p in sorted((ROOT / "fixtures").rglob("*.py")))]
    failures = 0
    for source in sources:
        try:
            checked = cst.parse_module(source)
        except Exception as exc:  # noqa: BLE001 - the same failure is expected
            failures += 1
            with pytest.raises(type(exc)):
                parse_unchecked(source)
            continue
        assert parse_unchecked(source).deep_equals(checked)
    assert failures and len(sources) - failures > 100  # both kinds of fixtures are covered


def test_nodes_built_after_the_unchecked_parse_are_checked():
    parse_unchecked("x = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_visitor_classes_are_module_level():
    """The read-only walk caches what it calls per visitor class: a class defined in a function would be a new
    class on every call, and the caches would grow with them."""
    import ast

    nested = []
    for path in sorted((ROOT / "porter").rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested += [f"{path.name}: {node.name}" for node in ast.walk(function) if isinstance(node, ast.ClassDef)]
    assert nested == []
