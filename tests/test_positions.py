"""porter.python.positions: the positions porter generates itself are libcst's, node for node."""

from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from porter.python.positions import resolve_positions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"


def test_the_positions_are_libcsts_for_every_node_of_every_python_fixture():
    checked = 0
    for path in sorted(FIXTURES.glob("*/before.py")):
        try:
            module = cst.parse_module(path.read_text())
        except cst.ParserSyntaxError:
            continue  # the fixture of a rule on unreadable input
        ours = MetadataWrapper(module, unsafe_skip_copy=True)
        resolve_positions(ours)
        theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        assert dict(ours.resolve(PositionProvider)) == dict(theirs), path
        checked += len(theirs)
    assert checked > 10_000


def test_a_wrapper_without_libcsts_cache_resolves_positions_its_own_way():
    """Another libcst may keep its metadata elsewhere: then its own resolver runs."""
    asked = []

    class Wrapper:
        def resolve(self, provider):
            asked.append(provider)

    resolve_positions(Wrapper())
    assert asked == [PositionProvider]
