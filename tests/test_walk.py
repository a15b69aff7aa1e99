"""porter.python.walk: the read-only walk makes libcst's batched calls, in libcst's order, on the same nodes."""

import dataclasses
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper

from porter.python.walk import _is_trivia, visit_batched

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


def _sources():
    for path in [*sorted((ROOT / "fixtures").rglob("*.py")), *sorted((ROOT / "porter").rglob("*.py"))]:
        try:
            yield path.name, cst.parse_module(path.read_text(encoding="utf-8", errors="replace"))
        except cst.ParserSyntaxError:
            continue  # fixtures of unreadable input
    yield "tricky", cst.parse_module(TRICKY)


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
