"""Every name a rule emits exists in the torch_npu (or torch) release it claims to support."""

import libcst as cst
import pytest

from porter.ruleset import load_ruleset
from porter.surface import available_versions, load_surface

# A string value has no dotted name to look up; each one is tied to the registration that makes it valid.
STRING_EVIDENCE = {
    "npu": ("tensor_methods", "npu"),  # rename_privateuse1_backend("npu") generates Tensor.npu
    "hccl": ("python", "torch_npu.distributed.is_hccl_available"),  # torch_npu's HCCL process-group module
}


def _emitted(rule):
    """(namespace, name) pairs a rule can write into ported code."""
    for entry in rule.entries:
        if entry.replacement is None:
            continue
        if rule.kind == "rename":
            yield "python", entry.replacement
            for arg in entry.insert_args:
                yield "string", cst.parse_expression(arg).evaluated_value
        elif rule.kind == "method":
            yield "method", entry.replacement
        elif rule.kind == "context_string":
            yield "string", entry.replacement
        elif rule.kind == "env_var":
            yield "env_vars", entry.replacement
        elif rule.kind == "support_import":
            yield "python", entry.replacement


def _cases():
    for version in available_versions("torch_npu"):
        for rule in load_ruleset(version).rules:
            for namespace, name in _emitted(rule):
                yield pytest.param(version, namespace, name, id=f"{version}-{rule.id}-{name}")


@pytest.mark.parametrize("version, namespace, name", list(_cases()))
def test_emitted_name_exists_in_release(version, namespace, name):
    npu = load_surface("torch_npu", version)
    torch = load_surface("torch", "2.13.0")
    if namespace == "python":
        assert npu.has_python(name) or torch.has_python(name)
    elif namespace == "method":
        assert npu.has("tensor_methods", name) or npu.has("module_methods", name)
    elif namespace == "string":
        assert name in STRING_EVIDENCE, f"no registration known for the string {name!r}"
        assert npu.has(*STRING_EVIDENCE[name])
    else:
        assert npu.has(namespace, name)


def test_snapshot_exists_for_every_supported_target():
    assert "2.13.0" in available_versions("torch_npu")


def test_names_in_advice_exist_too():
    """Messages and docs tell users what to call instead: those torch_npu names and variables must be real."""
    import re

    npu = load_surface("torch_npu", "2.13.0")
    api = re.compile(r"\b(?:torch_npu|torch\.npu)(?:\.\w+)+")
    env = re.compile(r"\b(?:HCCL|ASCEND|PYTORCH_NPU|TORCH_NPU)_[A-Z0-9_]+\b")
    for rule in load_ruleset("2.13.0").rules:
        for text in (rule.summary, rule.doc, *(e.message for e in rule.entries)):
            for name in api.findall(text):
                assert npu.has_python(name), f"{rule.id} advises {name}, which torch-npu 2.13.0 lacks"
            for name in env.findall(text):
                assert npu.has("env_vars", name), f"{rule.id} advises {name}, which torch-npu 2.13.0 never reads"
