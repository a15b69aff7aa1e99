"""Adding `import X` lines: one line each, right after the module's last top-level import, nothing else moved."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node


def _imported_modules(statement: cst.CSTNode) -> set[str]:
    if not isinstance(statement, cst.SimpleStatementLine):
        return set()
    names = set()
    for small in statement.body:
        if isinstance(small, cst.Import):
            names.update(get_full_name_for_node(alias.name) for alias in small.names if alias.asname is None)
    return names


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def add_imports(module: cst.Module, names: list[str]) -> cst.Module:
    """Add `import name` for each name the module does not import plainly at top level yet."""
    present = set().union(*(_imported_modules(s) for s in module.body)) if module.body else set()
    missing = [name for name in names if name not in present]
    if not missing:
        return module
    body = list(module.body)
    position = 1 if body and _is_docstring(body[0]) else 0
    for index, statement in enumerate(body):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            break
        if _is_import_line(statement):
            position = index + 1
    lines = [cst.parse_statement(f"import {name}{module.default_newline}") for name in missing]
    return module.with_changes(body=[*body[:position], *lines, *body[position:]])
