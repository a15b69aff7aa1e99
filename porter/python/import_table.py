"""Qualified names of imported names without libcst's scope analysis, where the imports alone decide them.

libcst's ScopeProvider costs about as much as the rule pass itself (a third of the libcst work on
megatron-core). Most modules bind an imported name once, at module level, and never rebind it; for those the
qualified name of `np.linalg.norm` follows from the import statements alone. This table answers exactly what
ScopeProvider's `get_qualified_names_for` answers for such names (the rules of libcst's `ImportAssignment`,
reproduced below), and answers None for every other name, which then goes to the scope analysis.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)

Alias = tuple[str, str | None]  # (imported dotted name, asname)
Statement = tuple[str, tuple[Alias, ...]]  # (the from-module with its leading dots, or "" for `import`; aliases)


@dataclass(frozen=True)
class ImportTable:
    statements: dict[str, tuple[Statement, ...]]  # each name a module-level import records -> those imports
    unsafe: frozenset[str]  # first segments also bound otherwise, or by an import inside a function or class

    def answers_every(self, names: frozenset[str]) -> bool:
        """Whether every name rooted in one of `names` gets an answer (or the scope analysis is needed)."""
        return not (names & self.unsafe) and all(name in self.statements for name in names)

    def qualified(self, full_name: str) -> frozenset[str] | None:
        """The qualified names of `full_name` (`a.b.c`), or None when the scope analysis must decide."""
        if full_name.split(".")[0] in self.unsafe:
            return None
        prefix = full_name
        while prefix not in self.statements:
            if "." not in prefix:
                return None
            prefix = prefix.rsplit(".", 1)[0]
        return frozenset(name for statement in self.statements[prefix] for name in _qualified(statement, full_name))


def import_table(tree: ast.Module) -> ImportTable:
    statements: dict[str, list[Statement]] = {}
    unsafe: set[str] = set()
    _collect(tree, statements, unsafe, nested=False)
    unsafe |= _bound_otherwise(tree)
    return ImportTable({name: tuple(found) for name, found in statements.items()}, frozenset(unsafe))


def _collect(node: ast.AST, statements: dict, unsafe: set, nested: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            module = "" if isinstance(child, ast.Import) else "." * child.level + (child.module or "")
            aliases = tuple((alias.name, alias.asname) for alias in child.names)
            if any(name == "*" for name, _ in aliases):
                continue  # binds nothing the scope analysis knows of either
            for recorded in {name for alias in aliases for name in _recorded_names(alias)}:
                if nested:
                    unsafe.add(recorded.split(".")[0])
                else:
                    statements.setdefault(recorded, []).append((module, aliases))
        else:
            _collect(child, statements, unsafe, nested or isinstance(child, _SCOPES))


def _recorded_names(alias: Alias) -> list[str]:
    """The names libcst's scope records for one alias: `import a.b` records `a.b` and `a`."""
    name, asname = alias
    parts = (asname or name).split(".")
    return [".".join(parts[:end]) for end in range(len(parts), 0, -1)]


def _bound_otherwise(tree: ast.Module) -> set[str]:
    """Names bound by anything but an import, except `name = ...` at module level: that binding (a fallback such
    as `except ImportError: triton = None`) has a local qualified name, which rules ignore, so the imported
    names stay what the imports say."""
    fallbacks = {id(target) for node in _module_level(tree) if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}
    bound = set()
    for node in ast.walk(tree):
        if id(node) in fallbacks:
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def _module_level(tree: ast.Module):
    """The statements of the module's own scope, inside if/try/with/for/while blocks too."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
            stack.extend(s for handler in getattr(node, "handlers", ()) for s in handler.body)


def _qualified(statement: Statement, full_name: str) -> set[str]:
    """libcst's ImportAssignment.get_qualified_names_for, for one import statement."""
    module, aliases = statement
    results = set()
    for name, asname in aliases:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            real = as_name = ".".join(parts[:end])
            if module.endswith("."):
                real = module + real
            elif module:
                real = f"{module}.{real}"
            if asname:
                as_name = asname
            if full_name.startswith(as_name):
                remaining = full_name.split(as_name, 1)[1]
                if remaining and not remaining.startswith("."):
                    continue
                remaining = remaining.lstrip(".")
                results.add(f"{real}.{remaining}" if remaining else real)
                break
    return results
