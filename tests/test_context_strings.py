"""The context_string kind reads a name pattern off the code of targets, parameters and operands; it takes that
code from the nodes themselves where it can (porter.python.strings._plain_code), which must be libcst's code."""

import libcst as cst
import pytest

from porter.python.base import code_of
from porter.python.strings import _plain_code

SPELLINGS = ["device", "self.device", "args.model.device", "'cuda'", '"cuda:0"', "(device)", "(self).device",
             "self . device", "self.\\\n    device", "(\n    self.device\n)", "f(x).device", "x[0].device",
             "'a' 'b'", "f'{device}'"]


@pytest.mark.parametrize("code", SPELLINGS)
def test_plain_code_is_libcsts_code_or_nothing(code):
    node = cst.parse_expression(code)
    plain = _plain_code(node)
    assert plain is None or plain == code_of(node)


def test_plain_code_is_found_for_names_strings_and_attribute_chains():
    found = [code for code in SPELLINGS if _plain_code(cst.parse_expression(code)) is not None]
    assert found == ["device", "self.device", "args.model.device", "'cuda'", '"cuda:0"']


def test_plain_code_agrees_with_libcst_on_every_fixture_node(fixture_module):
    module = fixture_module
    stack, checked = [module], 0
    while stack:
        node = stack.pop()
        plain = _plain_code(node)
        if plain is not None:
            assert plain == code_of(node)
            checked += 1
        stack.extend(node.children)
    assert checked or "def" not in module.code
