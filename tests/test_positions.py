"""porter.python.positions: the positions porter generates itself are libcst's, node for node."""

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from porter.findings import Span
from porter.python.positions import Positions, node_span, resolve_positions

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


def _compare(source: str) -> int:
    module = cst.parse_module(source)
    ours = MetadataWrapper(module, unsafe_skip_copy=True)
    resolve_positions(ours)
    positions = ours.resolve(PositionProvider)
    theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert isinstance(positions, Positions)
    for node, expected in theirs.items():
        assert positions[node] == expected, (type(node).__name__, expected)
        assert node_span(positions, node) == Span(expected.start.line, expected.start.column + 1,
                                                  expected.end.line, expected.end.column)
    return len(theirs)


def test_the_positions_are_libcsts_for_every_node_of_every_python_fixture():
    checked = 0
    for path in sorted(FIXTURES.glob("*/before.py")):
        try:
            checked += _compare(path.read_text())
        except cst.ParserSyntaxError:
            continue  # the fixture of a rule on unreadable input
    assert checked > 10_000


@pytest.mark.parametrize("source", CRAFTED.values(), ids=CRAFTED.keys())
def test_the_positions_are_libcsts_on_unusual_text(source):
    assert _compare(source) > 0


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
