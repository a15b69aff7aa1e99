"""Every rule has a before/after fixture pair; porting `before` gives `after`, porting `after` changes nothing."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from porter import kinds
from porter.discover import classify
from porter.engine import PortOptions, port_bytes
from porter.pipeline import PortRequest, run
from porter.python import port_python
from porter.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
TARGET = "2.13.0"
FIXTURES = ROOT / "fixtures" / "rules"
RULES = load_ruleset(TARGET).rules
C_LIKE_SUFFIXES = (".c", ".cc", ".cpp", ".cu", ".cuh", ".h", ".hpp")  # `// ok:`; Python, shell and CMake use `# ok:`


def _pair(rule):
    """The fixture pair: before.py/after.py, or before.<ext>/after.<ext> for rules on other file kinds."""
    before = next((FIXTURES / rule.id).glob("before.*"), FIXTURES / rule.id / "before.py")
    return before, before.with_name("after" + before.suffix)


def _port(path, ruleset):
    rule = ruleset.by_id(path.parent.name)
    if rule is not None and rule.opt_in:  # its fixture shows what the rule does when the user turns it on
        ruleset = ruleset.enabling(rule.opt_in)
    if rule is not None and rule.kind in kinds.reading("repository"):
        return _port_as_repository(path, ruleset)
    return port_bytes(path.name, classify(path.name), path.read_bytes(), ruleset)


def _port_as_repository(path, ruleset):
    """A rule found over the whole tree (after every file is ported) sees its fixture as a one-file repository."""
    with tempfile.TemporaryDirectory() as scratch:
        source, output = Path(scratch) / "src", Path(scratch) / "out"
        source.mkdir()
        shutil.copyfile(path, source / path.name)
        report = run(PortRequest(source, output, ruleset, options=PortOptions(jobs=1, cache_dir=None)))
        result = next(r for r in report.files if r.path == path.name)
        ported = (output / path.name).read_bytes()
        result.new_bytes = None if ported == path.read_bytes() else ported
        return result


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_fixture_pair(rule):
    before, after = _pair(rule)
    assert before.is_file() and after.is_file()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_before_ports_to_after(rule, ruleset):
    before, after = _pair(rule)
    result = _port(before, ruleset)
    produced = result.new_bytes if result.new_bytes is not None else before.read_bytes()
    assert produced.decode() == after.read_text()
    assert rule.id in {f.rule_id for f in result.findings}, f"{rule.id}'s fixture does not exercise {rule.id}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_porting_twice_changes_nothing(rule, ruleset):
    assert _port(_pair(rule)[1], ruleset).new_bytes is None


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_ok_lines_are_left_alone(rule, ruleset):
    before_path, after_path = _pair(rule)
    before, after = before_path.read_text().splitlines(), after_path.read_text()
    marker = "// ok:" if before_path.suffix in C_LIKE_SUFFIXES else "# ok:"
    assert any(marker in line for line in before), f"{rule.id}'s fixture has no `{marker}` near-miss line"
    result = _port(before_path, ruleset)
    for number, line in enumerate(before, start=1):
        if marker not in line:
            continue
        assert line in after.splitlines(), f"an `{marker}` line changed: {line!r}"
        converted_here = [f for f in result.findings if f.span and f.span.line == number and f.replacement]
        assert not converted_here, f"line {number} was rewritten: {converted_here}"


def _python_example(rule):
    return rule.example_before and rule.kind in kinds.reading("python")


@pytest.mark.parametrize("rule", [r for r in RULES if _python_example(r)], ids=lambda r: r.id)
def test_documented_example_is_what_porter_does(rule, ruleset):
    """The doc page's before/after example is checked, so documentation cannot drift from behaviour."""
    new, _ = port_python(rule.example_before, ruleset.enabling(rule.opt_in) if rule.opt_in else ruleset)
    assert (new if new is not None else rule.example_before) == rule.example_after


def test_every_fixture_directory_names_a_rule():
    ids = {r.id for r in RULES}
    for directory in FIXTURES.iterdir():
        assert re.fullmatch(r"[A-Z]{2,4}\d{3}", directory.name) and directory.name in ids, directory
