"""porter/kinds.py is the one list of rule kinds: every kind has the handler it names, every handler table holds
only registered kinds, and the built-in rules use only registered kinds."""

import importlib
import inspect

from porter import kinds
from porter.ruleset import load_ruleset

TABLES = sorted({handler for kind in kinds.REGISTRY for handler in kind.handlers if ":" in handler})


def _table(handler: str) -> dict:
    module, table = handler.split(":")
    return getattr(importlib.import_module(module), table)


def missing_handlers(registry: tuple[kinds.Kind, ...]) -> list[str]:
    """`kind: handler` for each handler that does not handle its kind: a table without the kind as a key, or a
    module that never selects the kind's rules."""
    missing = []
    for kind in registry:
        for handler in kind.handlers:
            if ":" in handler:
                handled = kind.name in _table(handler)
            else:
                handled = f'of_kind("{kind.name}")' in inspect.getsource(importlib.import_module(handler))
            if not handled:
                missing.append(f"{kind.name}: {handler}")
    return missing


def test_every_registered_kind_has_its_handlers():
    assert missing_handlers(kinds.REGISTRY) == []


def test_a_kind_registered_without_a_handler_is_found():
    registry = (*kinds.REGISTRY, kinds.Kind("brand_new", "python", ("porter.python:VISITOR_FOR_KIND",)),
                kinds.Kind("other_new", "any", ("porter.engine",)))
    assert missing_handlers(registry) == ["brand_new: porter.python:VISITOR_FOR_KIND", "other_new: porter.engine"]


def test_a_handler_table_holds_exactly_the_kinds_registered_for_it():
    for handler in TABLES:
        registered = {kind.name for kind in kinds.REGISTRY if handler in kind.handlers}
        assert set(_table(handler)) == registered, handler


def test_kind_names_are_unique_and_files_are_frontends():
    assert len(set(kinds.NAMES)) == len(kinds.NAMES)
    assert {kind.files for kind in kinds.REGISTRY} <= {"python", "native", "build", "any", "repository"}


def test_every_built_in_rule_uses_a_registered_kind_and_every_kind_is_used():
    used = {rule.kind for rule in load_ruleset("2.13.0").rules}
    assert used == set(kinds.NAMES)


def test_only_python_mapping_kinds_get_per_entry_tests():
    entry_kinds = kinds.with_entry_tests()
    assert entry_kinds and all(kind.files == "python" for kind in kinds.REGISTRY if kind.name in entry_kinds)
