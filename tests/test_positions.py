"""porter.python.positions: the positions porter generates itself are libcst's, node for node."""

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from porter.findings import Span
from porter.python.positions import _TRIVIA, Positions, node_span, resolve_positions
from porter.python.walk import rewritten

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"

CRAFTED = {
    "empty": "",
    "no trailing newline": "import torch\nx = torch.cuda.is_available()",
    "comments only": "# one\n\n# two\n",
    "crlf": "import torch\r\n\r\n@decorator(\r\n    1)\r\ndef f(a,\r\n      b):  # c\r\n    return (a +\r\n            b)\r\n",
    "lone cr": "x = 1\ry = 2\r",
    "mixed newlines": "x = 1\r\n\ny = '''a\rb\r\nc'''\n",
    "continuations and semicolons": "a = 1; b = \\\n    2\nif a:\n    pass  # trailing\n    # block footer\n",
    "wide characters": "s = 'ä€😀'; t = s  # ü\nclass K:\n\tdef m(self): return 'é'\n",
    "nested parentheses": "y = ((a)\n  .b(c=(d, [e for e in f if (e)]))[1:2])\n",
}


def _compare(source: str) -> tuple[int, int]:
    """(nodes whose positions equal libcst's, trivia found to have none)."""
    module = cst.parse_module(source)
    ours = MetadataWrapper(module, unsafe_skip_copy=True)
    resolve_positions(ours)
    positions = ours.resolve(PositionProvider)
    theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert isinstance(positions, Positions)
    compared = trivia = 0
    for node, expected in theirs.items():
        if isinstance(node, _TRIVIA):  # whitespace, punctuation, operators: no rule asks where they are
            assert positions.get(node) is None
            trivia += 1
            continue
        assert positions[node] == expected, (type(node).__name__, expected)
        assert node_span(positions, node) == Span(expected.start.line, expected.start.column + 1,
                                                  expected.end.line, expected.end.column)
        compared += 1
    return compared, trivia


def test_the_positions_are_libcsts_for_every_node_of_every_python_fixture():
    compared = trivia = 0
    for path in sorted(FIXTURES.glob("*/before.py")):
        try:
            counts = _compare(path.read_text())
        except cst.ParserSyntaxError:
            continue  # the fixture of a rule on unreadable input
        compared, trivia = compared + counts[0], trivia + counts[1]
    assert compared > 5_000 and compared + trivia > 10_000


@pytest.mark.parametrize("source", CRAFTED.values(), ids=CRAFTED.keys())
def test_the_positions_are_libcsts_on_unusual_text(source):
    assert _compare(source)[0] > 0


def test_a_node_not_in_the_module_has_no_position():
    positions = Positions(cst.parse_module("x = 1\n"))
    stranger = cst.Name("x")
    assert positions.get(stranger) is None
    with pytest.raises(KeyError):
        positions[stranger]


def test_a_wrapper_without_libcsts_cache_resolves_positions_its_own_way():
    """Another libcst may keep its metadata elsewhere: then its own resolver runs."""
    asked = []

    class Wrapper:
        def resolve(self, provider):
            asked.append(provider)

    resolve_positions(Wrapper())
    assert asked == [PositionProvider]


def _edit_every_fifth_name(module: cst.Module) -> cst.Module:
    names = [node for node in _nodes(module) if isinstance(node, cst.Name)][::5]
    return rewritten(module, {id(name): (lambda updated: cst.Name(updated.value + "_")) for name in names})


def _nodes(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _nodes(child)


@pytest.mark.parametrize("source", CRAFTED.values(), ids=CRAFTED.keys())
def test_an_edited_module_copies_what_it_shares_and_is_the_code_libcst_generates(source):
    module = cst.parse_module(source)
    edited = _edit_every_fifth_name(module)
    assert Positions(module).code(edited) == edited.code


def test_every_python_fixture_edited_gives_the_code_libcst_generates():
    edited_modules = 0
    for path in sorted(FIXTURES.parent.rglob("*.py")):
        try:
            module = cst.parse_module(path.read_text())
        except cst.ParserSyntaxError:
            continue
        edited = _edit_every_fifth_name(module)
        assert Positions(module).code(edited) == edited.code, path
        edited_modules += edited is not module
    assert edited_modules > 100


def test_a_node_whose_parent_passes_it_a_default_comma_is_generated_not_copied():
    module = cst.parse_module("f(a)\nif x:\n    g(\n        b,\n    )\n")
    call = module.body[0].body[0].value
    grown = call.with_changes(args=[*call.args, cst.Arg(cst.Name("c"))])  # `a` is no longer the last argument
    edited = rewritten(module, {id(call): lambda _updated: grown})
    assert Positions(module).code(edited) == edited.code == "f(a, c)\nif x:\n    g(\n        b,\n    )\n"


def test_only_the_nodes_on_the_way_to_an_edit_are_generated(monkeypatch):
    module = cst.parse_module("import torch\n\ndef f():\n    x = torch.ones(2)\n    return x\n\ny = 1\n")
    positions = Positions(module)
    ones = module.body[1].body.body[0].body[0].value
    edited = rewritten(module, {id(ones): lambda updated: updated.with_changes(args=())})
    generated = []
    for kind in (cst.SimpleStatementLine, cst.FunctionDef, cst.Import):
        original = kind._codegen_impl
        monkeypatch.setattr(kind, "_codegen_impl", lambda self, state, _original=original, **kwargs: (
            generated.append(type(self).__name__), _original(self, state, **kwargs))[1])
    assert positions.code(edited) == "import torch\n\ndef f():\n    x = torch.ones()\n    return x\n\ny = 1\n"
    assert generated == ["FunctionDef", "SimpleStatementLine"]  # the import, `return x` and `y = 1` are copied


def test_the_search_for_edited_nodes_skips_the_code_that_holds_none():
    module = cst.parse_module("".join(f"a{i} = f({i})\n" for i in range(20)) + "g(torch.cuda)\n")
    positions = Positions(module)
    target = module.body[-1].body[0].value.args[0].value
    may_hold = positions.holding([target])
    asked = []
    edited = rewritten(module, {id(target): lambda _updated: cst.parse_expression("torch.npu")},
                       lambda node: asked.append(node) or may_hold(node))
    assert edited.code == rewritten(module, {id(target): lambda _updated: cst.parse_expression("torch.npu")}).code
    assert edited.code.endswith("a19 = f(19)\ng(torch.npu)\n")
    assert not [node for node in asked if isinstance(node, cst.Call) and node is not module.body[-1].body[0].value]
    assert positions.holding([cst.Name("elsewhere")]) is None  # a node not of this module: no skipping
