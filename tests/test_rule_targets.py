"""Every name a rule emits exists in the torch_npu (or torch) release it claims to support."""

import functools
import importlib.util
import re
import sys
from pathlib import Path

import libcst as cst
import pytest

from porter import kinds
from porter.ruleset import Entry, applies_to, load_ruleset
from porter.surface import available_versions, load_surface, release

ROOT = Path(__file__).resolve().parent.parent

# A string value has no dotted name to look up; each one is tied to the registration that makes it valid.
STRING_EVIDENCE = {
    "npu": ("tensor_methods", "npu"),  # rename_privateuse1_backend("npu") generates Tensor.npu
    "hccl": ("python", "torch_npu.distributed.is_hccl_available"),  # torch_npu's HCCL process-group module
}

# Python names the C extension binds from a C++ enum: the snapshot lists the Python class and the C++ constants
BOUND_ENUMS = {"torch_npu.profiler.ProfilerActivity": "torch_npu::profiler::NpuActivityType"}


def npu_has_python(npu, name: str) -> bool:
    owner, _, member = name.rpartition(".")
    return npu.has_python(name) or (owner in BOUND_ENUMS and npu.has_python(owner)
                                    and npu.has("c_constants", f"{BOUND_ENUMS[owner]}::{member}"))


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
        elif rule.kind in ("call_transform", "fusion") and entry.replacement.startswith("torch_npu."):
            yield "python", entry.replacement  # torch's own targets (torch.optim, torch.nn) are not in its snapshot


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
        assert npu_has_python(npu, name) or torch.has_python(name)
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
    npu = load_surface("torch_npu", "2.13.0")
    api = re.compile(r"\b(?:torch_npu|torch\.npu)(?:\.\w+)+")
    env = re.compile(r"\b(?:HCCL|ASCEND|PYTORCH_NPU|TORCH_NPU)_[A-Z0-9_]+\b")
    for rule in load_ruleset("2.13.0").rules:
        for text in (rule.summary, rule.doc, *(e.message for e in rule.entries)):
            for name in api.findall(text):
                assert npu_has_python(npu, name), f"{rule.id} advises {name}, which torch-npu 2.13.0 lacks"
            for name in env.findall(text):
                assert npu.has("env_vars", name) or npu.has("c_constants", name), \
                    f"{rule.id} advises {name}, which torch-npu 2.13.0 neither reads nor declares"


# ---------------------------------------------------------------------------- C++ names (native rules)

CPP_BUILTINS = {"reinterpret_cast", "void", "uint32_t", "nullptr"}
# torch's own C++ names a rule emits (the NPU's dispatch key and device type): checked against the installed
# torch's headers, the torch snapshot being Python-only.
TORCH_CPP = re.compile(r"^(?:(?:torch|at|c10)::)*(?:DeviceType::)?(\w+)$")


def _cpp_emitted(rule):
    """(kind, name) pairs a native rule can write: identifiers of replacements and call templates, headers."""
    for entry in rule.entries:
        if entry.replacement is None:
            continue
        if rule.kind == "cpp_include":
            yield "header", entry.replacement
            continue
        text = re.sub(r"\{\w+\}", " ", entry.replacement)
        for name in re.findall(r"[A-Za-z_]\w*(?:::\w+)*", text):
            if name not in CPP_BUILTINS:
                yield "name", name


def _cpp_cases():
    for rule in load_ruleset("2.13.0").rules:
        if rule.kind in kinds.handled_by(kinds.NATIVE_PASS):
            for kind, name in sorted(set(_cpp_emitted(rule))):
                yield pytest.param(kind, name, id=f"{rule.id}-{name}")


@functools.cache
def _torch_header_words() -> frozenset[str]:
    torch = importlib.util.find_spec("torch")
    include = Path(list(torch.submodule_search_locations)[0]) / "include"
    words = set()
    for folder in ("c10/core", "torch/headeronly/core", "ATen/core", "torch"):
        for header in (include / folder).glob("*.h"):
            words |= set(re.findall(r"\b\w+\b", header.read_text(encoding="utf-8", errors="replace")))
    return frozenset(words)


@pytest.mark.parametrize("kind, name", list(_cpp_cases()))
def test_emitted_cpp_name_exists(kind, name):
    npu = load_surface("torch_npu", "2.13.0")
    if kind == "header":
        assert npu.has("c_headers", name), f"the torch-npu wheel has no header {name}"
    elif name.startswith(("c10_npu::", "acl", "ACL_", "Hccl", "HCCL_")):
        assert any(npu.has(ns, name) for ns in ("c_functions", "c_constants", "c_types")), name
    else:
        match = TORCH_CPP.match(name)
        assert match and match.group(1) in _torch_header_words(), f"{name} is neither torch_npu's nor torch's"


def test_cpp_name_check_can_fail():
    npu = load_surface("torch_npu", "2.13.0")
    assert not any(npu.has(ns, "aclrtMallocc") for ns in ("c_functions", "c_constants", "c_types"))
    assert any(npu.has(ns, "aclrtMalloc") for ns in ("c_functions", "c_constants", "c_types"))
    assert "kPrivateUse2" not in _torch_header_words() and "kPrivateUse1" in _torch_header_words()


@pytest.mark.parametrize("version, expected", [
    ("2.13.0", (2, 13, 0)), ("2.13.0.post1", (2, 13, 0)), ("2.13.0+cpu", (2, 13, 0)), ("2.13", (2, 13, 0)),
    ("2.1.0rc1", (2, 1, 0)), ("2.10+cu121", (2, 10, 0)),
])
def test_a_version_compares_by_its_release(version, expected):
    assert release(version) == expected


def test_since_and_until_select_by_release():
    entry = Entry("torch.cuda.x", since="2.5.0", until="2.13")
    assert [applies_to(entry, target) for target in ("2.4.1", "2.5.0.post2", "2.12.9", "2.13.0+cpu")] == \
        [False, True, True, False]


HEADER = b"""
namespace ns {
#ifdef _WIN32
struct Params : public Base {
#else
struct EXPORT_API Params : public Base {
#endif
  Params() : input_desc(nullptr) {}
  const int** input_desc;
  static constexpr int kLimit = 4;
  struct other::Thing pack() const;
};
inline std::shared_ptr<Logger>& GetLogger() { return logger; }
struct Opaque *handle(void);
enum class Mode { FAST, SLOW };
}  // namespace ns
"""


def test_the_header_scan_follows_the_grammar_not_the_text():
    script = ROOT / "scripts" / "extract_api_surface.py"
    spec = importlib.util.spec_from_file_location("extract_api_surface_for_headers", script)
    extractor = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = extractor  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(extractor)
        found = extractor.CDeclarations()
        extractor.HeaderScanner(found).scan(HEADER)
    finally:
        del sys.modules[spec.name]
    assert found.functions == {"ns::Params::pack", "ns::GetLogger", "ns::handle"}  # no constructor, no initialiser
    assert found.constants == {"ns::Params::kLimit", "ns::Mode::FAST", "ns::Mode::SLOW"}
    assert found.types == {"ns::Params", "ns::Mode"}  # `struct other::Thing` and `struct Opaque *` only name a type
