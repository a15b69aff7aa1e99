"""Every rule kind porter knows, the files it applies to and where its rules are applied.

Every other list of kinds derives from this table: the schema's `kind` enum (porter.ruleset), the kinds that make
the native frontend read C/C++/CUDA files (porter.native), the kinds whose entries get a generated test each
(tests/rule_entry_uses.py), the kinds the fixture and target tests select. tests/test_rule_kinds.py checks that every kind has its handler and every handler table
holds only kinds listed here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    # the file kind whose frontend reads these rules (porter.discover): python, native, build, any; or
    # repository: found over the whole ported tree after every file (the parity suite's generation)
    files: str
    handlers: tuple[str, ...]  # where its rules are applied: `module` (which reads `of_kind("name")`) or `module:TABLE`
    entry_tests: bool = False  # each entry is an API mapping that tests/test_rule_entries.py ports on its own


_VISITOR = "porter.python:VISITOR_FOR_KIND"
_POLICY = "porter.python.safety.policies:POLICIES"
NATIVE_PASS = "porter.native.passes:PASSES"

REGISTRY: tuple[Kind, ...] = (
    Kind("rename", "python", (_VISITOR,), entry_tests=True),
    Kind("context_string", "python", (_VISITOR,), entry_tests=True),
    Kind("method", "python", (_VISITOR,), entry_tests=True),
    Kind("import", "python", (_VISITOR,), entry_tests=True),
    Kind("env_var", "python", (_VISITOR, "porter.text_frontend"), entry_tests=True),  # and the text kinds it names
    Kind("call_transform", "python", (_VISITOR,), entry_tests=True),
    Kind("fusion", "python", (_VISITOR,)),  # a product of elementary ops rewritten as one fused operator
    Kind("residual", "python", (_VISITOR,)),
    Kind("support_import", "python", ("porter.python.frontend",)),
    Kind("backend_implementation", "python", (_POLICY, "porter.backend_support")),
    Kind("backend_dispatch", "python", (_POLICY,)),
    Kind("cuda_only_guard", "python", (_POLICY,)),
    Kind("distinct_values", "python", (_POLICY,)),
    Kind("value_consistency", "python", (_POLICY,)),
    Kind("text_residual", "any", ("porter.text_frontend",)),
    Kind("input", "any", ("porter.engine",)),
    Kind("cpp_rename", "native", (NATIVE_PASS,)),
    Kind("cpp_call", "native", (NATIVE_PASS,)),
    Kind("cpp_include", "native", (NATIVE_PASS,)),
    Kind("native_inventory", "native", ("porter.native",)),
    Kind("kernel", "native", ("porter.kernels",)),
    Kind("cmake_command", "build", ("porter.native.cmake",)),
    Kind("parity_case", "repository", ("porter.pipeline",)),
)

NAMES: tuple[str, ...] = tuple(kind.name for kind in REGISTRY)


def reading(files: str) -> tuple[str, ...]:
    """The kinds whose rules the frontend for `files` reads."""
    return tuple(kind.name for kind in REGISTRY if kind.files == files)


def handled_by(handler: str) -> tuple[str, ...]:
    """The kinds one handler (a module or `module:TABLE`) applies."""
    return tuple(kind.name for kind in REGISTRY if handler in kind.handlers)


def with_entry_tests() -> tuple[str, ...]:
    return tuple(kind.name for kind in REGISTRY if kind.entry_tests)
