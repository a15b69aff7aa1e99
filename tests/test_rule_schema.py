"""Rule files are validated against rules/schema.json: the schema, the loader and the built-in rules agree, and a
misspelled key is a usage error naming the file and the key."""

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from porter import ruleset
from porter.cli import main
from porter.findings import STATUS_OF_ENTRY
from porter.resources import data_dir
from porter.ruleset import RuleError, load_rule_file

ROOT = Path(__file__).resolve().parent.parent
RULE = {"id": "USR001", "name": "mine", "kind": "rename", "category": "device-api", "summary": "s", "doc": "d",
        "entries": [{"pattern": "torch.cuda.mystery", "replacement": "torch.npu.synchronize"}]}


def _write(tmp_path, rule: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}))
    return path


@pytest.fixture
def fresh_validator():
    ruleset._validator.cache_clear()
    yield
    ruleset._validator.cache_clear()


def test_the_shipped_schema_is_a_valid_schema_and_ships_in_the_wheel():
    schema = ruleset.shipped_schema()
    jsonschema.validators.validator_for(schema).check_schema(schema)
    package_data = re.search(r'^"porter\._rules" = \[(.*)\]$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert package_data and '"schema.json"' in package_data.group(1)  # tomllib is 3.11+, porter supports 3.10


def test_every_built_in_rule_file_validates():
    files = sorted(data_dir("rules").glob("*.yaml"))
    assert files
    for path in files:
        assert ruleset._schema_error(yaml.safe_load(path.read_text()), path) is None, path


def test_schema_and_loader_accept_the_same_keys():
    defs = ruleset.shipped_schema()["definitions"]
    assert set(defs["rule"]["properties"]) == ruleset.RULE_KEYS, "rules/schema.json and ruleset.RULE_KEYS differ"
    assert set(defs["entry"]["properties"]) == ruleset.entry_keys(), "rules/schema.json and ruleset.Entry differ"
    assert set(defs["entry"]["properties"]["status"]["enum"]) == set(STATUS_OF_ENTRY)


def test_contexts_are_described_only_for_known_kinds():
    kinds = _kinds_with_described_contexts()
    assert kinds and kinds <= set(ruleset.KINDS), kinds - set(ruleset.KINDS)


def _kinds_with_described_contexts() -> set[str]:
    tests = [c["if"]["properties"]["kind"] for c in ruleset.shipped_schema()["definitions"]["rule"]["allOf"]]
    return {kind for test in tests for kind in test.get("enum", [test.get("const")])}


def test_every_kind_whose_rules_have_contexts_has_them_described():
    with_contexts = {rule.kind for path in data_dir("rules").glob("*.yaml") for rule in load_rule_file(path)
                     if rule.contexts}
    assert with_contexts and with_contexts <= _kinds_with_described_contexts(), \
        f"contexts of {sorted(with_contexts - _kinds_with_described_contexts())} are not in rules/schema.json"


def test_the_kind_list_comes_from_the_loader(tmp_path, monkeypatch, fresh_validator):
    path = _write(tmp_path, {**RULE, "kind": "brand_new"})
    with pytest.raises(RuleError, match="brand_new"):
        load_rule_file(path)
    monkeypatch.setattr(ruleset, "KINDS", (*ruleset.KINDS, "brand_new"))
    ruleset._validator.cache_clear()
    assert load_rule_file(path)[0].kind == "brand_new"


def test_an_entry_key_the_loader_declares_is_accepted(tmp_path, monkeypatch, fresh_validator):
    path = _write(tmp_path, {**RULE, "entries": [{**RULE["entries"][0], "guard": "x"}]})
    with pytest.raises(RuleError, match="'guard'"):
        load_rule_file(path)
    declared = ruleset.entry_keys() | {"guard"}
    monkeypatch.setattr(ruleset, "entry_keys", lambda: declared)
    ruleset._validator.cache_clear()
    assert load_rule_file(path)[0].entries[0].pattern == "torch.cuda.mystery"


@pytest.mark.parametrize("rule, where, key", [
    ({**RULE, "kidn": "rename"}, "rule USR001", "'kidn' (did you mean 'kind'?)"),
    ({**RULE, "entries": [{"pattern": "torch.cuda.x", "replacment": "torch.npu.x"}]},
     "rule USR001, entry 'torch.cuda.x'", "'replacment' (did you mean 'replacement'?)"),
    ({**RULE, "kind": "residual", "contexts": {"identifier": "cuda", "string": "cuda", "api_prefix": []}},
     "rule USR001, contexts", "'api_prefix' (did you mean 'api_prefixes'?)"),
    ({**RULE, "kind": "cpp_call", "contexts": {"report_other_shape": False}},
     "rule USR001, contexts", "'report_other_shape' (did you mean 'report_other_shapes'?)"),
    ({**RULE, "example": {"before": "a", "afterr": "b"}}, "rule USR001, example", "'afterr'"),
])
def test_an_unknown_key_names_the_file_the_place_and_the_key(tmp_path, rule, where, key):
    path = _write(tmp_path, rule)
    with pytest.raises(RuleError) as error:
        load_rule_file(path)
    assert str(error.value).startswith(f"{path}: {where}: unknown key {key}")


@pytest.mark.parametrize("rule, message", [
    ({**RULE, "kind": "renam"}, "kind: 'renam' is not one of"),
    ({**RULE, "entries": [{"pattern": "torch.cuda.x"}]}, "'replacement' is a required property"),
    ({**RULE, "entries": [{"pattern": "torch.cuda.x", "status": "maybe"}]}, "status: 'maybe' is not one of"),
    ({**RULE, "id": "usr1"}, "id: 'usr1' does not match"),
    ({**RULE, "since": 2.1}, "since: 2.1 is not of type 'string'"),
    ({**RULE, "kind": "residual", "contexts": {"identifier": "(", "string": "x"}}, "identifier: '(' is not a 'regex'"),
    ({**RULE, "kind": "native_inventory", "contexts": {"api": "x"}}, "'headers' is a required property"),
    ({**RULE, "kind": "cpp_rename", "contexts": {"nodes": "identifier"}}, "'identifier' is not of type 'array'"),
    ({**RULE, "kind": "kernel", "contexts": {"atomics": "("}}, "atomics: '(' is not a 'regex'"),
])
def test_wrong_values_are_named(tmp_path, rule, message):
    with pytest.raises(RuleError, match="mine.yaml: rule ") as error:
        load_rule_file(_write(tmp_path, rule))
    assert message in str(error.value)


def test_the_cli_exits_2_naming_the_file_and_the_key(tmp_path):
    path = _write(tmp_path, {**RULE, "entries": [{"pattern": "torch.cuda.x", "replacment": "torch.npu.x"}]})
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(main, ["port", str(tmp_path / "src"), "--dry-run", "--rules", str(path)])
    assert result.exit_code == 2, result.output
    assert "mine.yaml" in result.output and "'replacment'" in result.output and "Traceback" not in result.output


def test_the_editor_page_points_at_the_shipped_schema():
    page = (ROOT / "docs" / "rule-schema.md").read_text()
    assert "# yaml-language-server: $schema=" in page and "rules/schema.json" in page
