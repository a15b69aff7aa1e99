"""A minimal use of one mapping entry, built from its rule's data, and what porting it must produce.

Shared by tests/test_rule_entries.py and scripts/render_rule_docs.py (which reports the coverage per rule)."""

from __future__ import annotations

from porter import kinds

ENTRY_KINDS = kinds.with_entry_tests()
KNOWN_GAPS: dict[str, str] = {}  # entry pattern: why its minimal use fails today (its test is a strict xfail)
CALL_ARGUMENTS = "query, key, value"  # enough positional arguments for a call_transform's rebuild...
MORE_ARGUMENTS = {"flash_attn_varlen_func": ", cu_q, cu_k, max_q, max_k"}  # ...except where a valid call needs more


def entry_use(rule, entry) -> tuple[str, str, str]:
    """(module source, the use it contains, what porting must make of it: the line `value = <use>` becomes, or the
    whole ported module when the source is the rule's own example; a line ending in `(` is a prefix)."""
    pattern, replacement = entry.pattern, entry.replacement or entry.pattern
    if rule.kind == "method":
        called = pattern.endswith("()")
        use = f"tensor.{pattern}"
        return f"import torch\n\nvalue = {use}\n", use, f"value = tensor.{replacement}{'()' if called else ''}"
    if rule.kind == "context_string":
        function, index = next(iter(rule.contexts["calls"].items()))
        arguments = ["x"] * index + [f'"{pattern}"']
        use = f'{function}({", ".join(arguments)})'
        return f"import torch\n\nvalue = {use}\n", use, f"value = {use.replace(pattern, replacement)}"
    if rule.kind == "env_var":
        use = f'os.environ["{pattern}"]'
        return f"import os\n\nvalue = {use}\n", use, f'value = os.environ["{replacement}"]'
    if rule.kind == "import":
        return f"import {pattern}\n\nvalue = {pattern}\n", pattern, f"import {replacement}"
    top = pattern.split(".")[0]
    if rule.kind == "call_transform" and len(rule.entries) == 1 and pattern in rule.example_before:
        return rule.example_before, pattern, rule.example_after  # one pattern the transform recognises in context
    if rule.kind == "call_transform":
        use = f"{pattern}({CALL_ARGUMENTS}{MORE_ARGUMENTS.get(pattern.rsplit('.', 1)[-1], '')})"
        return f"import {top}\n\nvalue = {use}\n", use, f"value = {replacement}("
    use = f"{pattern}()" if entry.insert_args else pattern
    expected = f"{replacement}({', '.join(entry.insert_args)})" if entry.insert_args else replacement
    return f"import {top}\n\nvalue = {use}\n", use, f"value = {expected}"


def exercised_entries(rule) -> int:
    """How many of the rule's entries tests/test_rule_entries.py checks (and expects to pass)."""
    if rule.kind not in ENTRY_KINDS:
        return 0
    return sum(entry.pattern not in KNOWN_GAPS for entry in rule.entries)
