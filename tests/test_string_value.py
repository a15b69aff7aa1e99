"""porter.python.base.string_value reads most literals without `ast.literal_eval`: it must equal libcst's
`evaluated_value` on every spelling, and take the short way only where the text is the value."""

import libcst as cst
import pytest

from porter.python.base import string_value

SPELLINGS = ["'cuda'", '"cuda:0"', "''", '""', "''''''", '""""""', '"""a\nb"""', "'''x'y'''", '""""q"""',
             "r'c\\d'", "R'cuda'", "u'npu'", "U\"x\"", "b'cuda'", "rb'x'", "Br'y'", "'a\\nb'", "'\\x63uda'",
             '"""a\r\nb"""', "'é'", "'\\\nx'"]


@pytest.mark.parametrize("code", SPELLINGS)
def test_string_value_is_libcsts_value(code):
    node = cst.parse_expression(code)
    assert type(string_value(node)) is type(node.evaluated_value)
    assert string_value(node) == node.evaluated_value


def test_string_value_reads_escapes_and_line_ends_through_libcst(monkeypatch):
    evaluated = []
    original = cst.SimpleString.evaluated_value
    monkeypatch.setattr(cst.SimpleString, "evaluated_value",
                        property(lambda node: evaluated.append(node.value) or original.fget(node)))
    for code in SPELLINGS:
        string_value(cst.parse_expression(code))
    assert evaluated == ["r'c\\d'", "b'cuda'", "rb'x'", "Br'y'", "'a\\nb'", "'\\x63uda'", '"""a\r\nb"""', "'\\\nx'"]


def test_string_value_agrees_with_libcst_on_every_fixture_string(fixture_module):
    strings = []

    class Strings(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            strings.append(node)

    fixture_module.visit(Strings())
    for node in strings:
        assert string_value(node) == node.evaluated_value, node.value
