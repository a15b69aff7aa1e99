"""The prefilter may skip a file only when porting it would change and report nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from porter.python import port_python
from porter.python.prefilter import might_need_porting, triggers_of
from tests.rule_entry_uses import ENTRY_KINDS, entry_use

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PYTHON_FIXTURES = sorted(FIXTURES.rglob("*.py"))


@pytest.mark.parametrize("path", PYTHON_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_a_skipped_fixture_ports_to_nothing(ruleset, path):
    source = path.read_text(encoding="utf-8", errors="replace")
    if might_need_porting(ruleset, source):
        return
    try:
        assert port_python(source, ruleset) == (None, [])
    except Exception as exc:  # noqa: BLE001 - a file libcst cannot read is reported as such, never skipped silently
        pytest.fail(f"skipped, but porting it raises {type(exc).__name__}")


def test_every_entrys_minimal_use_is_parsed(ruleset):
    uses = [entry_use(rule, entry)[0] for rule in ruleset.rules if rule.kind in ENTRY_KINDS for entry in rule.entries]
    assert len(uses) > 200
    assert [use for use in uses if not might_need_porting(ruleset, use)] == []


@pytest.mark.parametrize("source", [
    "import torch\ny = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w\n",  # an advice rule, no CUDA word
    "import torch\nmodule = torch.utils.cpp_extension.load(name, sources)\n",  # only the resolved name shows it
    "import torch.utils as u\ndef build():\n    return u.cpp_extension.load_inline(name, src)\n",  # an alias
    "import apex\n",  # an import rule
    "import torch.nn.functional as F\ny = F.scaled_dot_product_attention(q, k, v)\n",  # advice, no CUDA word
    "from torch.utils import cpp_extension\n",  # an import rule on a module path
    "import torch.utils\nx = (",  # not Python: libcst reports it
])
def test_uses_the_rules_match_are_parsed(ruleset, source):
    assert might_need_porting(ruleset, source)


@pytest.mark.parametrize("source", [
    "import torch\nx = torch.zeros(3)\n",  # no word of any rule
    "import torch.distributed as dist\nrank = dist.get_world_size()\n",  # an API word, but no API a rule maps
    "from mylib import utils\nutils.cpp_extension.load(name)\n",  # the words, bound to another library
    "import torch\n\ndef load_inline():\n    return torch.zeros(1)\n",  # a local function sharing the name
])
def test_files_no_rule_matches_are_skipped(ruleset, source):
    assert not might_need_porting(ruleset, source)
    assert port_python(source, ruleset) == (None, [])


def test_the_triggers_come_from_the_rule_data(ruleset):
    triggers = triggers_of(ruleset)
    by_text = [r for r in ruleset.of_kind("fusion") if "text" in r.contexts]  # found by the text their detectors need
    patterns = {e.pattern.split("(")[0] for r in ruleset.of_kind("rename", "call_transform", "fusion")
                if r not in by_text for e in r.entries}
    assert triggers.apis == patterns and by_text
    assert all(any(p.pattern == r.contexts["text"] for p in triggers.anywhere) for r in by_text)
    assert triggers.modules == {e.pattern for r in ruleset.of_kind("import") for e in r.entries}


@pytest.mark.parametrize("source", [
    "import os\n# runs on cuda devices\nx = 1\n",
    "import os\r\n    # NCCL_DEBUG=INFO helps\r\nx = 1\r\n",  # CRLF, an indented comment
    "import os\r# cudnn\rx = 1\r",  # lone CR line ends
    "import os\n\f# cuda\nx = 1\n",  # a form feed before the comment
])
def test_a_trigger_only_in_comment_lines_is_skipped(ruleset, source):
    """No rule reads a comment."""
    assert not might_need_porting(ruleset, source)
    assert port_python(source, ruleset) == (None, [])


@pytest.mark.parametrize("source", [
    'import os\nx = """\n# cuda\n"""\n',  # a `#` line inside a string spanning lines is no comment
    'import os\nx = "a\\\n# cuda"\n',  # nor inside a string continued with a backslash
    'import os\nx = ("a"\n# "cuda"\n"b")\n',  # a comment among concatenated strings: kept, to be safe
    "import os\nx = 1  # cuda\n",  # a comment after code: kept, the line is not only a comment
    "import os\n# cuda\nuse_cuda = True\n",  # one use in code is enough
    "import os\n# cuda\nx = (\n",  # not Python: libcst reports it
])
def test_a_trigger_outside_comment_lines_is_parsed(ruleset, source):
    assert might_need_porting(ruleset, source)


def test_blanked_comment_lines_let_a_pattern_find_the_code_they_precede(ruleset):
    """A match that starts in a comment and runs into code must not hide the code's own match."""
    from porter.python.prefilter import _text_outside_comment_lines

    negated_tuple = next(p for p in triggers_of(ruleset).anywhere if "-" in p.pattern)
    assert negated_tuple.match("(\n((-x")
    assert _text_outside_comment_lines("import os\n# (\n((-x2, x1))\n", (negated_tuple,))
    assert not _text_outside_comment_lines("import os\n# ((-x2, x1)\ny = 1\n", (negated_tuple,))
