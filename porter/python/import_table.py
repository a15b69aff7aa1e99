"""Qualified names of imported names without libcst's scope analysis, where the imports alone decide them.

libcst's ScopeProvider costs about as much as the rule pass itself (a third of the libcst work on
megatron-core). Most modules bind an imported name only by imports, at module level or inside functions; for
those the qualified name of `np.linalg.norm` follows from the import statements of the innermost function that
has one (else the module's). This table answers exactly what ScopeProvider's `get_qualified_names_for` answers
for such names (the rules of libcst's `ImportAssignment` and of its scope lookup, reproduced below), and answers
None for every other name, which then goes to the scope analysis.

A name the table leaves to the scope analysis need not go there when no rule reads what it resolves to
(`ImportTable.unread`: `socket` bound by an import and by a loop): the frontends then ask the scope analysis only
whether such a name is imported at all, which only a method rule's receiver needs.

Scopes are functions, numbered in source order from 1 (0: the module). Classes are transparent: code in a method
does not see the class body's names, and a name imported in a class body is left to the scope analysis (libcst
resolves comprehensions in a class body past it).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
from dataclasses import dataclass

from porter.python.ast_nodes import child_nodes, nodes


Alias = tuple[str, str | None]  # (imported dotted name, asname)
Statement = tuple[str, tuple[Alias, ...]]  # (the from-module with its leading dots, or "" for `import`; aliases)


MODULE = 0  # the scope number of the module itself
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class ImportTable:
    statements: dict[tuple[int, str], tuple[Statement, ...]]  # (scope, each name its imports record) -> those
    parents: tuple[int, ...]  # scope n's enclosing function (or the module) at index n; the module's: itself
    unsafe: frozenset[str]  # first segments also bound otherwise, or by an import in a class body
    hidden: frozenset[tuple[int, str]] = frozenset()  # (scope, first segment) bound otherwise in that function:
    # left to the scope analysis there and in the functions inside it
    early: frozenset[tuple[int, str]] = frozenset()  # (scope, first segment) used before an import of it there
    # that could bind it otherwise: left to the scope analysis in that scope only
    unanswered: frozenset[str] = frozenset()  # imported first segments with a use that gets no answer
    origins: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)  # first segment -> what every
    # qualified name an import gives it starts with (`import a.b` -> `a`, `from .m import n as k` -> `.m.n`)

    def answers_every(self, names: frozenset[str], besides: frozenset[str] = frozenset()) -> bool:
        """Whether every name rooted in one of `names` but not in `besides` gets an answer (or the scope analysis
        is needed)."""
        return not ((names & self.unsafe) | self.unanswered) - besides

    def unread(self, read: tuple[str, ...]) -> frozenset[str]:
        """The imported first segments none of whose qualified names can be one of `read` (the qualified names
        rules compare names with, each also matching what lies below it), lie below one, or contain one. What the
        scope analysis resolves such a name to matches nothing; only whether it resolves at all can matter.
        libcst answers an imported name with what its imports give or, for a builtin's name, `builtins.name`."""
        def beside(origin: str) -> bool:
            return any(name.startswith(origin) or origin.startswith(name) for name in read)

        return frozenset(root for root, origins in self.origins.items() if not any(map(beside, origins))
                         and not (hasattr(builtins, root) and beside(f"builtins.{root}")))

    def qualified(self, full_name: str, scope: int = MODULE) -> frozenset[str] | None:
        """The qualified names of `full_name` (`a.b.c`) used in function `scope`, or None when the scope analysis
        must decide. Like libcst, the longest prefix bound in any enclosing scope wins, from its innermost scope;
        a name no enclosing scope imports resolves to nothing an import binds (a builtin's name: left to it)."""
        root = full_name.split(".")[0]
        chain = self._chain(scope)
        if root in self.unsafe or (scope, root) in self.early or any((s, root) in self.hidden for s in chain):
            return None
        prefix = full_name
        while True:
            for enclosing in chain:
                found = self.statements.get((enclosing, prefix))
                if found is not None:
                    return frozenset(name for statement in found for name in _qualified(statement, full_name))
            if "." not in prefix:
                return None if hasattr(builtins, root) else frozenset()
            prefix = prefix.rsplit(".", 1)[0]

    def _chain(self, scope: int) -> list[int]:
        chain = [scope]
        while chain[-1] != MODULE:
            chain.append(self.parents[chain[-1]])
        return chain


def import_table(tree: ast.Module) -> ImportTable:
    walk = _Walk()
    walk.scope(tree, MODULE, klass=None)
    hidden = {(scope, name) for scope, name in walk.assigned if scope != MODULE and (scope, name) not in walk.statements}
    early = {(scope, name) for scope, name, at in walk.uses if _early(walk.imports_of.get((scope, name), ()), at)}
    imported = {name.split(".")[0] for _, name in walk.statements}
    unsafe = set(walk.unsafe | walk.bound)
    for name, region, scope in walk.local:
        if name not in imported:
            continue
        if scope is None or (scope, name) in walk.imports_of:  # in a class body, which uses lie inside it is for
            # the scope analysis to say; `def f(x): import x`: the parameter is asked about outside f
            if scope is not None or _referenced_in(name, region):
                unsafe.add(name)
        elif _referenced_in(name, region):
            hidden.add((scope, name))
    table = ImportTable({key: tuple(found) for key, found in walk.statements.items()}, tuple(walk.parents),
                        frozenset(unsafe), frozenset(hidden), frozenset(early),
                        origins={root: frozenset(origins) for root, origins in walk.origins.items()})
    unanswered = {name for scope, name, _ in walk.uses if name in imported and table.qualified(name, scope) is None}
    return dataclasses.replace(table, unanswered=frozenset(unanswered))


Position = tuple[int, int]


class _Walk:
    """One walk in source order (functions are numbered as libcst meets them) over what binds names: imports by
    scope; `name = ...`, `a, b = ...` or `name: T`, and a function or class defined at module level, which are
    harmless at module level (a fallback such as `except ImportError: triton = None` has a local qualified name,
    which rules ignore) and where the same function imports the name, and hide the imports from that function
    and the functions inside it otherwise; a parameter, or an assignment, function or class in a function or
    class body, which binds the name only in that body (`def save(self)` beside an imported `save`): harmless
    unless that body names it or that function imports it too, and the binding's own name answers as a local
    (porter.python.base.CallIndex records it); and every other binding, which leaves the name to the scope
    analysis. A name used in a scope before an import of it in that scope is left to the scope analysis in that
    scope (libcst resolves such a use to the bindings before it only), unless an import before the use binds it
    the way every later one does."""

    def __init__(self) -> None:
        self.statements: dict[tuple[int, str], list[Statement]] = {}
        self.parents: list[int] = [MODULE]
        self.assigned: set[tuple[int, str]] = set()
        self.imports_of: dict[tuple[int, str], list[tuple[Position, object]]] = {}  # (scope, name) -> where each
        # import of the name ends, and how it binds the name
        self.uses: list[tuple[int, str, Position]] = []
        self.local: list[tuple[str, ast.AST, int | None]] = []  # (name, the function or class whose body binds it,
        # that function's scope)
        self.bound: set[str] = set()
        self.unsafe: set[str] = set()  # imported in a class body
        self.origins: dict[str, set[str]] = {}

    def scope(self, node: ast.AST, scope: int, klass: ast.ClassDef | None, function: ast.AST | None = None) -> None:
        """`klass`: the class whose body `node` is directly in; `function`: the function `scope` numbers."""
        for child in child_nodes(node):
            self._visit(child, scope, klass, function)

    def _visit(self, node: ast.AST, scope: int, klass: ast.ClassDef | None, function: ast.AST | None) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node, scope, klass is not None)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            plain = [name for target in targets for name in _names_assigned(target)]
            for name in plain:
                if klass is None:
                    self.assigned.add((scope, name.id))
                else:
                    self.local.append((name.id, klass, None))
            skip = {id(name) for name in plain}
            for inner in nodes(node):
                if id(inner) not in skip:
                    self._note(inner, scope)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            self._definition(node, scope, klass, function)
        else:
            self._note(node, scope)
            self.scope(node, scope, klass, function)

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, scope: int,
                    klass: ast.ClassDef | None, function: ast.AST | None) -> None:
        if klass is not None:
            self.local.append((node.name, klass, None))  # a class body imports nothing the table answers
        elif function is not None:
            self.local.append((node.name, function, scope))
        else:
            self.assigned.add((scope, node.name))  # at module level: a local name, as `name = ...` there
        if isinstance(node, ast.ClassDef):
            self.scope(node, scope, klass=node, function=function)
            return
        self.parents.append(scope)
        inner = len(self.parents) - 1
        arguments = node.args
        for parameter in (*arguments.posonlyargs, *arguments.args, arguments.vararg, *arguments.kwonlyargs,
                          arguments.kwarg):
            if parameter is not None:
                self.local.append((parameter.arg, node, inner))
                if parameter.annotation is not None:
                    self._visit(parameter.annotation, scope, klass, function)
        for outside in (*node.decorator_list, *arguments.defaults, *filter(None, arguments.kw_defaults),
                        *filter(None, [node.returns])):
            self._visit(outside, scope, klass, function)  # evaluated in the enclosing scope
        for statement in node.body:
            self._visit(statement, inner, klass=None, function=node)

    def _import(self, node: ast.Import | ast.ImportFrom, scope: int, in_class: bool) -> None:
        module = "" if isinstance(node, ast.Import) else "." * node.level + (node.module or "")
        aliases = tuple((alias.name, alias.asname) for alias in node.names)
        if any(name == "*" for name, _ in aliases):
            return  # binds nothing the scope analysis knows of either
        roots = [(asname or name).split(".")[0] for name, asname in aliases]
        for root, alias in zip(roots, aliases):
            self.origins.setdefault(root, set()).add(_origin(module, alias))
        if in_class:
            self.unsafe.update(roots)
            return
        for recorded in {name for alias in aliases for name in _recorded_names(alias)}:
            self.statements.setdefault((scope, recorded), []).append((module, aliases))
        for root, (name, asname) in zip(roots, aliases):
            form = None if not module and asname is None else (module, name)  # any `import a.b` reads `a.x` as `a.x`
            self.imports_of.setdefault((scope, root), []).append(((node.end_lineno, node.end_col_offset), form))

    def _note(self, node: ast.AST, scope: int) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            self.uses.append((scope, node.id, (node.lineno, node.col_offset)))
        elif isinstance(node, ast.Name):
            self.bound.add(node.id)
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)
        elif isinstance(node, ast.ClassDef):
            self.bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.bound.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bound.add(node.rest)


def _early(imports: list[tuple[Position, object]], at: Position) -> bool:
    """Whether libcst can answer a use at `at` otherwise than the scope's imports together: it reads only the
    imports before a use, which answer alike when the scope imports the name one way only."""
    if not imports:
        return False
    ends = [end for end, _ in imports]
    return at < min(ends) or (at < max(ends) and len({form for _, form in imports}) > 1)


def _referenced_in(name: str, region: ast.AST) -> bool:
    """Whether the body that `name` is bound in (a function's, or a class's outside its methods' bodies) reads it.
    Assigning it there is no reading: each such binding is weighed on its own."""
    if isinstance(region, ast.ClassDef):
        stack: list[ast.AST] = list(region.body)
        while stack:
            node = stack.pop()
            if _reads(node, name):
                return True
            stack.extend(child for child in child_nodes(node)
                         if not (isinstance(node, _FUNCTIONS) and child in node.body))
        return False
    return any(_reads(node, name) for statement in region.body for node in nodes(statement))


def _reads(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Store)


def _recorded_names(alias: Alias) -> list[str]:
    """The names libcst's scope records for one alias: `import a.b` records `a.b` and `a`."""
    name, asname = alias
    parts = (asname or name).split(".")
    return [".".join(parts[:end]) for end in range(len(parts), 0, -1)]


def _names_assigned(target: ast.expr) -> list[ast.Name]:
    if isinstance(target, ast.Name):
        return [target]
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        return target.elts
    return []


def _origin(module: str, alias: Alias) -> str:
    """What every qualified name `_qualified` gives through this alias starts with."""
    name, asname = alias
    if not module:
        return name if asname else name.split(".")[0]
    return module + name if module.endswith(".") else f"{module}.{name}"


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
