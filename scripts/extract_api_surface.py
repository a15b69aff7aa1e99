"""Snapshot the API surface of a torch_npu wheel (and of the installed torch) as JSON.

porter checks every target name a rule emits against these snapshots.

torch_npu is never imported (it needs an NPU); its wheel is read statically:

* python       -- ast over every ``*.py``: module-level defs, classes, assignments,
                  ``__all__``, relative re-exports (``from .x import y``), star imports,
                  names handled by a module-level ``__getattr__``; public members of
                  exported classes (including bases defined inside the package);
                  objects created at module level from a package class (for example
                  ``torch.npu.matmul = _allowHF32Matmul()``) get that class's members
                  plus the attribute names its ``__getattr__``/``__setattr__`` compares
                  against (``allow_hf32``).  A module registered with
                  ``torch._register_device_module("npu", m)`` is mirrored as ``torch.npu``.
                  Custom ops are also listed as ``torch_npu.<op>`` and ``torch.ops.npu.<op>``.
* ops          -- op names in the ``custom:`` section of ``csrc/aten/*.yaml``
                  (the schemas torch_npu registers under ``torch.ops.npu``).
* tensor_methods / module_methods -- ``generate_methods_for_privateuse1_backend`` calls
                  (expanded per torch's documented contract) and direct assignments to
                  ``torch.Tensor.x`` / ``torch.nn.Module.x``.
* env_vars     -- os.environ / os.getenv keys in the Python sources, env-name string
                  literals in the headers, and NUL-delimited upper-case strings in the
                  shared libraries that pass the filter in ``binary_env_vars``.
* c_*          -- the tree-sitter-cpp parse of the ACL/HCCL C headers and the torch_npu C++
                  headers (namespace-qualified; the first branch of each #if, attribute-like
                  macros blanked); c_headers: every header path under
                  ``include/``, as an ``#include`` spells it with NpuExtension's include path.

The torch part imports the installed torch and lists public names by introspection.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from porter.native.syntax import parser
from porter.python.base import dotted_text
from porter.surface import NAMESPACES

EXTRACTOR = "scripts/extract_api_surface.py"
TORCH_OPS_NAMESPACE = "npu"
# Opt-in shim that rebinds CUDA names to NPU ones; what it patches is not torch_npu API.
PATCH_SCAN_EXCLUDES = ("torch_npu.contrib.transfer_to_npu",)
C_API_HEADER_DIRS = ("acl", "third_party/acl/inc/acl", "third_party/hccl")
CPP_API_HEADER_DIRS = ("torch_npu/csrc",)
# One header per ATen kernel: kernel plumbing, not API anyone ports to.
CPP_HEADER_EXCLUDES = ("torch_npu/csrc/aten/ops",)
HEADER_SUFFIXES = (".h", ".hpp")
HEADER_PARSER = parser("cpp")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
# Families whose upper-case binary strings are taken as env vars even without a
# Python-side read of the same family (see binary_env_vars).
ENV_FAMILIES = ("ACL", "ASCEND", "HCCL", "NPU", "PYTORCH", "TORCH")
ENV_SUFFIXES = ("ENABLE", "DISABLE", "CONF", "BUFFSIZE", "TIMEOUT", "PATH", "DIR", "FILE", "REUSE")


def empty_surface() -> dict[str, set[str]]:
    return {ns: set() for ns in NAMESPACES}


# --------------------------------------------------------------------------- wheel access

@dataclass(frozen=True)
class Wheel:
    root: Path          # directory holding the package and its .dist-info
    package: str
    version: str
    file_name: str

    @property
    def package_dir(self) -> Path:
        return self.root / self.package


def read_wheel_metadata(root: Path, package: str) -> tuple[str, str]:
    """Version and wheel file name from the .dist-info (WHEEL Tag gives the file name)."""
    dist_infos = sorted(root.glob(f"{package}-*.dist-info"))
    if not dist_infos:
        raise SystemExit(f"no {package}-*.dist-info under {root}")
    metadata = (dist_infos[0] / "METADATA").read_text(encoding="utf-8", errors="replace")
    version = re.search(r"^Version:\s*(\S+)", metadata, re.M).group(1)
    wheel_info = (dist_infos[0] / "WHEEL").read_text(encoding="utf-8", errors="replace")
    tag = re.search(r"^Tag:\s*(\S+)", wheel_info, re.M).group(1)
    return version, f"{package}-{version}-{tag}.whl"


def unpack(wheel_path: Path, into: Path) -> Path:
    wanted = (".py", ".h", ".hpp", ".yaml", ".so", "METADATA", "WHEEL")
    with zipfile.ZipFile(wheel_path) as archive:
        for member in archive.namelist():
            if member.endswith(wanted) or ".so." in member:
                archive.extract(member, into)
    return into


# --------------------------------------------------------------------------- python sources

@dataclass
class PyModule:
    """One parsed module. bindings maps each top-level name to one of
    ("def", node), ("class", node), ("module", dotted), ("external", source),
    ("from", source module, attribute, is_relative), ("call", callee expr),
    ("alias", expr) or ("value", None)."""

    name: str
    is_package: bool
    tree: ast.Module
    bindings: dict[str, tuple] = field(default_factory=dict)
    all_names: list[str] | None = None
    star_imports: list[str] = field(default_factory=list)
    lazy_names: set[str] = field(default_factory=set)


def is_public(name: str) -> bool:
    return not name.startswith("_")


def string_list(expr: ast.AST) -> list[str]:
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return [e.value for e in expr.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):  # __all__ = [...] + [...]
        return string_list(expr.left) + string_list(expr.right)
    return []


def compared_strings(func: ast.FunctionDef, param_index: int) -> set[str]:
    """String constants the given parameter is compared against (== or in) in func."""
    params = func.args.posonlyargs + func.args.args
    if len(params) <= param_index:
        return set()
    param = params[param_index].arg
    found = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == param:
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
                    found.add(right.value)
                elif isinstance(op, ast.In):
                    found.update(string_list(right))
    return found


def top_level_statements(body: list[ast.stmt]):
    """Module-level statements, looking inside if/try/with blocks but not TYPE_CHECKING ones."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(stmt.test):
                yield from top_level_statements(stmt.body)
            yield from top_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):
                yield from top_level_statements(block)
        elif isinstance(stmt, ast.With):
            yield from top_level_statements(stmt.body)
        else:
            yield stmt


class PythonPackage:
    def __init__(self, wheel: Wheel):
        self.root_name = wheel.package
        self.modules: dict[str, PyModule] = {}
        for path in sorted(wheel.package_dir.rglob("*.py")):
            parts = path.relative_to(wheel.root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8-sig", errors="replace"))
            except SyntaxError as error:
                print(f"warning: skipped {path}: {error}", file=sys.stderr)
                continue
            self.modules[name] = PyModule(name, is_package, tree)
        for module in self.modules.values():
            self._collect_bindings(module)
        self._exports_cache: dict[str, set[str]] = {}

    def is_internal(self, module_name: str) -> bool:
        return module_name == self.root_name or module_name.startswith(self.root_name + ".")

    def _absolute(self, module: PyModule, level: int, target: str | None) -> str:
        base = module.name.split(".")
        if not module.is_package:
            base = base[:-1]
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([target] if target else []))

    def _collect_bindings(self, module: PyModule) -> None:
        bind = module.bindings
        for stmt in top_level_statements(module.tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bind[stmt.name] = ("def", stmt)
                if stmt.name == "__getattr__":
                    module.lazy_names |= compared_strings(stmt, 0)
            elif isinstance(stmt, ast.ClassDef):
                bind[stmt.name] = ("class", stmt)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    kind = "module" if self.is_internal(target) else "external"
                    bind[alias.asname or target] = (kind, target)
            elif isinstance(stmt, ast.ImportFrom):
                source = self._absolute(module, stmt.level, stmt.module) if stmt.level else stmt.module
                if not self.is_internal(source or ""):
                    for alias in stmt.names:
                        bind[alias.asname or alias.name] = ("external", source)
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        module.star_imports.append(source)
                    else:
                        bind[alias.asname or alias.name] = ("from", source, alias.name, stmt.level > 0)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                self._collect_assignment(module, stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                    and dotted_text(stmt.value.func) in ("__all__.append", "__all__.extend") and stmt.value.args:
                call = stmt.value
                added = string_list(call.args[0]) if call.func.attr == "extend" else string_list(ast.Tuple(call.args))
                module.all_names = (module.all_names or []) + added

    @staticmethod
    def _collect_assignment(module: PyModule, stmt: ast.stmt) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if target.id == "__all__":
                names = string_list(value) if value is not None else []
                if isinstance(stmt, ast.AugAssign):
                    module.all_names = (module.all_names or []) + names
                else:
                    module.all_names = names
            elif isinstance(value, ast.Call):
                module.bindings[target.id] = ("call", value.func)
            elif isinstance(value, (ast.Name, ast.Attribute)):
                module.bindings[target.id] = ("alias", value)
            else:
                module.bindings[target.id] = ("value", None)

    # -- resolution ---------------------------------------------------------------------

    def star_names(self, module_name: str) -> set[str]:
        module = self.modules.get(module_name)
        if module is None:
            return set()
        if module.all_names is not None:
            return set(module.all_names)
        return self.exports(module_name)

    def exports(self, module_name: str) -> set[str]:
        """Public attribute names of a module, as the package intends them."""
        if module_name in self._exports_cache:
            return self._exports_cache[module_name]
        self._exports_cache[module_name] = set()  # recursion guard for import cycles
        module = self.modules[module_name]
        names = set(module.all_names or ()) | module.lazy_names
        for name, binding in module.bindings.items():
            if not is_public(name):
                continue
            if binding[0] in ("def", "class", "call", "alias", "value"):
                names.add(name)
            elif binding[0] == "from" and binding[3]:  # relative: a deliberate re-export
                names.add(name)
        for source in module.star_imports:
            names |= {n for n in self.star_names(source) if is_public(n)}
        self._exports_cache[module_name] = names
        return names

    def resolve(self, module_name: str, name: str, seen: frozenset = frozenset()) -> tuple:
        """What module_name.name refers to: ('class', module, node), ('module', name), ..."""
        key = (module_name, name)
        if key in seen or module_name not in self.modules:
            return ("unknown",)
        seen = seen | {key}
        module = self.modules[module_name]
        binding = module.bindings.get(name)
        if binding is None:
            for source in module.star_imports:
                if name in self.star_names(source):
                    return self.resolve(source, name, seen)
            if f"{module_name}.{name}" in self.modules:
                return ("module", f"{module_name}.{name}")
            return ("unknown",)
        kind = binding[0]
        if kind == "class":
            return ("class", module_name, binding[1])
        if kind == "module":
            return ("module", binding[1])
        if kind == "from":
            source, attr = binding[1], binding[2]
            if f"{source}.{attr}" in self.modules:
                return ("module", f"{source}.{attr}")
            return self.resolve(source, attr, seen)
        if kind == "alias":
            return self.resolve_expr(module_name, binding[1], seen)
        if kind == "call":
            called = self.resolve_expr(module_name, binding[1], seen)
            return ("instance", *called[1:]) if called[0] == "class" else ("value",)
        return (kind,)

    def resolve_expr(self, module_name: str, expr: ast.AST, seen: frozenset = frozenset()) -> tuple:
        if isinstance(expr, ast.Name):
            return self.resolve(module_name, expr.id, seen)
        if isinstance(expr, ast.Attribute):
            owner = self.resolve_expr(module_name, expr.value, seen)
            if owner[0] == "module":
                return self.resolve(owner[1], expr.attr, seen)
        return ("unknown",)

    def class_members(self, module_name: str, node: ast.ClassDef, seen: frozenset = frozenset()) -> set[str]:
        """Public members of a class, including those of bases defined in the package."""
        if (module_name, node.name) in seen:
            return set()
        seen = seen | {(module_name, node.name)}
        members = set()
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                members.add(stmt.name)
            elif isinstance(stmt, ast.Assign):
                members |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                members.add(stmt.target.id)
        for base in node.bases:
            resolved = self.resolve_expr(module_name, base)
            if resolved[0] == "class":
                members |= self.class_members(resolved[1], resolved[2], seen)
        return {m for m in members if is_public(m)}

    def instance_members(self, module_name: str, node: ast.ClassDef) -> set[str]:
        """Class members plus attributes set in __init__ or served by __getattr__/__setattr__."""
        members = self.class_members(module_name, node)
        for stmt in node.body:
            if not isinstance(stmt, ast.FunctionDef):
                continue
            if stmt.name in ("__getattr__", "__getattribute__", "__setattr__"):
                members |= compared_strings(stmt, 1)
            elif stmt.name == "__init__":
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) \
                            and dotted_text(sub.value) == "self":
                        members.add(sub.attr)
        return {m for m in members if is_public(m)}

    # -- emission -----------------------------------------------------------------------

    def public_modules(self) -> list[str]:
        return [m for m in self.modules if all(is_public(p) for p in m.split("."))]

    def dotted_names(self) -> set[str]:
        names = set()
        for module_name in self.public_modules():
            names.add(module_name)
            for name in self.exports(module_name):
                qualified = f"{module_name}.{name}"
                names.add(qualified)
                resolved = self.resolve(module_name, name)
                if resolved[0] == "class":
                    members = self.class_members(resolved[1], resolved[2])
                elif resolved[0] == "instance":
                    members = self.instance_members(resolved[1], resolved[2])
                else:
                    continue
                names |= {f"{qualified}.{member}" for member in members}
        return names

    def calls(self):
        """(module name, ast.Call) for every call in the package."""
        for module_name, module in self.modules.items():
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call):
                    yield module_name, node

    def device_module_aliases(self) -> dict[str, str]:
        """torch.<name> -> package module, from torch._register_device_module(name, module)."""
        aliases = {}
        for module_name, call in self.calls():
            if (dotted_text(call.func) or "").endswith("_register_device_module") and len(call.args) == 2 \
                    and isinstance(call.args[0], ast.Constant):
                resolved = self.resolve_expr(module_name, call.args[1])
                if resolved[0] == "module":
                    aliases[f"torch.{call.args[0].value}"] = resolved[1]
        return aliases


def constant_bool(expr: ast.AST, default: bool) -> bool:
    return expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, bool) else default


def privateuse1_methods(package: PythonPackage) -> dict[str, set[str]]:
    """Methods torch generates for the renamed PrivateUse1 backend.

    torch documents generate_methods_for_privateuse1_backend as adding Tensor.<b>() and
    Tensor.is_<b> (for_tensor), Module.<b>() (for_module), <storage>.<b>() and .is_<b>
    (for_storage) and PackedSequence.<b>() and .is_<b> (for_packed_sequence).
    """
    backend, flags = None, None
    for _, call in package.calls():
        func = dotted_text(call.func) or ""
        if func.endswith("rename_privateuse1_backend") and call.args \
                and isinstance(call.args[0], ast.Constant):
            backend = call.args[0].value
        elif func.endswith("generate_methods_for_privateuse1_backend"):
            keywords = {k.arg: k.value for k in call.keywords}
            flags = {flag: constant_bool(keywords.get(flag), default)
                     for flag, default in (("for_tensor", True), ("for_module", True),
                                           ("for_packed_sequence", True), ("for_storage", False))}
    found = {"tensor_methods": set(), "module_methods": set(), "python": set()}
    if backend is None or flags is None:
        return found
    pair = {backend, f"is_{backend}"}
    owners = []
    if flags["for_tensor"]:
        found["tensor_methods"] |= pair
        owners.append(("torch.Tensor", pair))
    if flags["for_module"]:
        found["module_methods"].add(backend)
        owners.append(("torch.nn.Module", {backend}))
    if flags["for_storage"]:
        owners += [("torch.TypedStorage", pair), ("torch.UntypedStorage", pair)]
    if flags["for_packed_sequence"]:
        owners.append(("torch.nn.utils.rnn.PackedSequence", pair))
    found["python"] = {f"{owner}.{name}" for owner, names in owners for name in names}
    return found


def patched_methods(package: PythonPackage) -> dict[str, set[str]]:
    """Public attributes torch_npu assigns onto torch.Tensor / torch.nn.Module."""
    owners = {"torch.Tensor": "tensor_methods", "torch.nn.Module": "module_methods"}
    found = {"tensor_methods": set(), "module_methods": set()}
    for module_name, module in package.modules.items():
        if module_name.startswith(PATCH_SCAN_EXCLUDES):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                owner, name = dotted_text(node.value), node.attr
            elif isinstance(node, ast.Call) and dotted_text(node.func) == "setattr" and len(node.args) == 3 \
                    and isinstance(node.args[1], ast.Constant):
                owner, name = dotted_text(node.args[0]), node.args[1].value
            else:
                continue
            if owner in owners and isinstance(name, str) and is_public(name):
                found[owners[owner]].add(name)
    return found


def python_env_vars(package: PythonPackage) -> set[str]:
    """Keys read or written through os.environ / os.getenv (literal or module constant)."""
    found = set()
    for module in package.modules.values():
        constants = {}
        for stmt in module.tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                constants.update({t.id: stmt.value.value for t in stmt.targets if isinstance(t, ast.Name)})

        def key_of(expr):
            if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                return expr.value
            return constants.get(expr.id) if isinstance(expr, ast.Name) else None

        for node in ast.walk(module.tree):
            key = None
            if isinstance(node, ast.Call) and node.args:
                func = dotted_text(node.func) or ""
                if func.endswith(("getenv", "putenv", "environ.get", "environ.setdefault", "environ.pop")):
                    key = key_of(node.args[0])
            elif isinstance(node, ast.Subscript) and (dotted_text(node.value) or "").endswith("environ"):
                key = key_of(node.slice)
            elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                    and (dotted_text(node.comparators[0]) or "").endswith("environ"):
                key = key_of(node.left)
            if key and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                found.add(key)
    return found


def custom_op_lines(wheel: Wheel) -> Iterator[str]:
    """The lines of the custom: section of the op registration yaml files (the ops torch_npu adds)."""
    for path in sorted((wheel.package_dir / "csrc" / "aten").glob("*.yaml")):
        section = None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            top_key = re.match(r"([A-Za-z_]\w*):", line)
            if top_key:
                section = top_key.group(1)
            elif section == "custom":
                yield line


def op_names(wheel: Wheel) -> set[str]:
    return {op.group(1) for line in custom_op_lines(wheel) if (op := re.search(r"\bfunc:\s*([A-Za-z_]\w*)", line))}


def split_top_level(text: str) -> list[str]:
    """Split a schema's argument list at commas outside brackets and quotes (`int[2] stride=[1, 1]` stays whole)."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            depth += char in "(["
            depth -= char in ")]"
        if char == "," and depth == 0 and not quote:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in parts + [current] if part.strip()]


def op_signatures(wheel: Wheel) -> dict[str, list[str]]:
    """`torch_npu.<op>` -> its parameter names, from the schemas of the custom: section (overloads skipped)."""
    schema = re.compile(r"\bfunc:\s*([A-Za-z]\w*)\((.*)\)\s*->")
    signatures = {}
    for line in custom_op_lines(wheel):
        if match := schema.search(line):
            params = [arg.split("=")[0].split()[-1] for arg in split_top_level(match.group(2)) if arg != "*"]
            signatures.setdefault(f"{wheel.package}.{match.group(1)}", params)
    return dict(sorted(signatures.items()))


# --------------------------------------------------------------------------- C / C++ headers

@dataclass
class CDeclarations:
    functions: set[str] = field(default_factory=set)
    constants: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


# An all-capital macro before a declaration's type or name (`ACL_FUNC_VISIBILITY aclError f(...)`,
# `class C10_NPU_API NPUStream`, `ACL_DEPRECATED_MESSAGE("...") ...`): the grammar cannot know it expands to an
# attribute, so it is blanked before parsing.
ATTRIBUTE_MACRO = re.compile(rb'\b[A-Z][A-Z0-9_]*(?:\s*\((?:"(?:\\.|[^"\\])*"|[^()"])*\))?(?=[ \t]+(?:[A-Za-z_]|::))')
NOT_API_NAMES = {"std"}  # namespaces whose specialisations (std::hash<...>) are not the package's API
RECORDS = ("class_specifier", "struct_specifier", "union_specifier")
BRANCHES = ("linkage_specification", "declaration_list", "template_declaration", "ERROR")  # scanned like their parent


def prepared(data: bytes) -> bytes:
    """The header as the parser should see it: continuation lines joined, only the first branch of each `#if` chain
    (alternative branches often repeat a declaration's opening line), no directive but `#define`, and
    attribute-like macros blanked."""
    lines = data.replace(b"\\\n", b" ").split(b"\n")
    open_branches = []  # one flag per open #if: whether its first branch is over
    for index, line in enumerate(lines):
        directive = re.match(rb"\s*#\s*(\w*)", line)
        keyword = directive.group(1) if directive else None
        if keyword is not None and keyword.startswith(b"if"):
            open_branches.append(False)
        elif keyword in (b"else", b"elif", b"elifdef", b"elifndef") and open_branches:
            open_branches[-1] = True
        elif keyword == b"endif" and open_branches:
            open_branches.pop()
        if any(open_branches) or keyword not in (None, b"define"):
            lines[index] = b""
        elif keyword is None:
            lines[index] = ATTRIBUTE_MACRO.sub(lambda match: b" " * len(match.group(0)), line)
    return b"\n".join(lines)


def declared_name(node) -> str | None:
    """The name a declarator declares, through pointers, references, arrays and parentheses."""
    while node is not None and node.type not in ("identifier", "field_identifier", "type_identifier",
                                                 "qualified_identifier", "destructor_name", "operator_name"):
        node = inner_declarator(node)
    return None if node is None else node.text.decode()


def inner_declarator(node):
    """What a pointer, reference, array or parenthesised declarator wraps."""
    return node.child_by_field_name("declarator") or next(
        (child for child in node.named_children if child.type.endswith(("declarator", "identifier"))), None)


def function_name(declarator) -> str | None:
    """The name a function declarator declares; None for operators, destructors and macro-looking names."""
    while declarator is not None and declarator.type != "function_declarator":
        declarator = inner_declarator(declarator)
    if declarator is None:
        return None
    name = declarator.child_by_field_name("declarator")
    if name is None or name.type not in ("identifier", "field_identifier", "qualified_identifier"):
        return None
    text = name.text.decode()
    return None if "operator" in text or "~" in text or text.split("::")[-1].isupper() else text


class HeaderScanner:
    """One header's public functions, constants and types, from its tree-sitter-cpp parse."""

    def __init__(self, out: CDeclarations):
        self.out = out

    def scan(self, data: bytes) -> None:
        self.block(HEADER_PARSER.parse(prepared(data)).root_node, [], None, True)

    @staticmethod
    def qualify(scope: list[str], name: str) -> str:
        return "::".join(scope + [name])

    def block(self, node, scope: list[str], class_name: str | None, public: bool) -> None:
        for child in node.named_children:
            if child.type == "access_specifier":
                public = child.text.decode() == "public"
            elif child.type in BRANCHES:
                self.block(child, scope, class_name, public)
            elif child.type == "namespace_definition":
                self.namespace(child, scope)
            elif public:
                self.declaration(child, scope, class_name)

    def namespace(self, node, scope: list[str]) -> None:
        name, body = node.child_by_field_name("name"), node.child_by_field_name("body")
        if name is not None and body is not None and name.text.decode() not in NOT_API_NAMES:  # unnamed: internal
            self.block(body, scope + name.text.decode().split("::"), None, True)

    def declaration(self, node, scope: list[str], class_name: str | None) -> None:
        kind = node.type
        if kind == "preproc_def":
            self.define(node)
        elif kind in RECORDS or kind == "enum_specifier":
            self.specifier(node, scope)
        elif kind == "alias_declaration":
            self.out.types.add(self.qualify(scope, node.child_by_field_name("name").text.decode()))
        elif kind in ("declaration", "field_declaration", "type_definition", "function_definition"):
            specifier, declarators = node.child_by_field_name("type"), node.children_by_field_name("declarator")
            declares = specifier is not None and (specifier.child_by_field_name("body") or not declarators)
            if declares and (specifier.type in RECORDS or specifier.type == "enum_specifier"):  # not `struct a *b;`
                self.specifier(specifier, scope)
            for declarator in declarators:
                self.declarator(node, declarator, scope, class_name)

    def declarator(self, node, declarator, scope: list[str], class_name: str | None) -> None:
        if node.type == "type_definition":
            name = declared_name(declarator)
            if name:
                self.out.types.add(self.qualify(scope, name))
            return
        function = function_name(declarator)
        if function is not None:
            if function.split("::")[-1] != class_name:  # constructors are not callable by name
                self.out.functions.add(self.qualify(scope, function))
            return
        has_value = declarator.type == "init_declarator" or node.child_by_field_name("default_value") is not None
        constant = any(child.type == "type_qualifier" and child.text.decode() in ("const", "constexpr")
                       for child in node.children)
        name = declared_name(declarator)
        if has_value and constant and name and "::" not in name:
            self.out.constants.add(self.qualify(scope, name))

    def specifier(self, node, scope: list[str]) -> None:
        name_node, body = node.child_by_field_name("name"), node.child_by_field_name("body")
        name = None if name_node is None or name_node.type == "template_type" else name_node.text.decode()
        if node.type == "enum_specifier":
            if name:
                self.out.types.add(self.qualify(scope, name))
            scoped = any(child.type in ("class", "struct") for child in node.children)
            members = scope + [name] if scoped and name else scope
            for enumerator in body.named_children if body is not None else ():
                if enumerator.type == "enumerator":
                    self.out.constants.add(self.qualify(members, enumerator.child_by_field_name("name").text.decode()))
            return
        if name is None:
            return  # anonymous record or template specialisation
        self.out.types.add(self.qualify(scope, name))
        if body is not None and scope:  # C++ header: members of a class are API too (C struct fields are not)
            self.block(body, scope + name.split("::"), name.split("::")[-1], node.type != "class_specifier")

    def define(self, node) -> None:
        name, value = node.child_by_field_name("name").text.decode(), node.child_by_field_name("value")
        text = "" if value is None else value.text.decode().strip()
        if text and not name.startswith("_") and "__attribute__" not in text and "declspec" not in text:
            self.out.constants.add(name)  # object-like macros with a value: not include guards or attributes


def header_files(include: Path, dirs: tuple[str, ...], excludes: tuple[str, ...] = ()) -> list[Path]:
    files = set()
    for directory in dirs:
        for path in (include / directory).rglob("*"):
            relative = path.relative_to(include).as_posix()
            if path.suffix in HEADER_SUFFIXES and not relative.startswith(excludes):
                files.add(path)
    return sorted(files)


def scan_headers(paths: list[Path]) -> CDeclarations:
    out = CDeclarations()
    for path in paths:
        HeaderScanner(out).scan(path.read_bytes())
    return out


def header_env_vars(paths: list[Path]) -> set[str]:
    """Env names in headers: getenv/getCvar arguments and `NAME = "NAME"` style constants."""
    found = set()
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for call in re.finditer(r"\b(?:getenv|get_env|getCvar\w*)\s*\(\s*\{?([^;)]*)", text):
            found |= set(re.findall(rf'"({ENV_NAME.pattern})"', call.group(1)))
        for name, initialiser in re.findall(r"\b(\w+)\s*=\s*(\{[^}]*\}|\"[^\"]*\")", text):
            literals = re.findall(r'"([^"]*)"', initialiser)
            if literals and literals[0] == name:
                found |= {literal for literal in literals if ENV_NAME.fullmatch(literal)}
    return found


# --------------------------------------------------------------------------- shared libraries

def binary_strings(paths: list[Path]) -> set[str]:
    """NUL-delimited upper-case snake strings, the shape env var names take in .rodata."""
    pattern = re.compile(rb"(?<=\x00)(" + ENV_NAME.pattern.encode() + rb")(?=\x00)")
    found = set()
    for path in paths:
        found |= {match.decode() for match in pattern.findall(path.read_bytes())}
    return found


def binary_env_vars(strings: set[str], known_env: set[str], c_constants: set[str]) -> set[str]:
    """Binary strings that look like env names.

    Strings cannot say whether getenv reads them, so a candidate must not be a C API
    constant and must either share its leading word with an env var the sources read
    for sure, belong to an Ascend/PyTorch env family, or end in a setting-like word.
    """
    families = {name.split("_")[0] for name in known_env} | set(ENV_FAMILIES)
    return {s for s in strings
            if s not in c_constants
            and (s.split("_")[0] in families or s.rsplit("_", 1)[-1] in ENV_SUFFIXES)}


# --------------------------------------------------------------------------- torch_npu

def extract_package(wheel: Wheel) -> dict[str, set[str]]:
    surface = empty_surface()
    package = PythonPackage(wheel)
    python = package.dotted_names()
    for alias, target in package.device_module_aliases().items():
        python |= {alias + name[len(target):] for name in python if name == target or name.startswith(target + ".")}
    surface["ops"] = op_names(wheel)
    public_ops = {op for op in surface["ops"] if is_public(op)}
    python |= {f"{wheel.package}.{op}" for op in public_ops}
    python |= {f"torch.ops.{TORCH_OPS_NAMESPACE}.{op}" for op in public_ops}
    for found in (privateuse1_methods(package), patched_methods(package)):
        for namespace, names in found.items():
            surface[namespace] |= names
    surface["python"] |= python

    include = wheel.package_dir / "include"
    c_api = scan_headers(header_files(include, C_API_HEADER_DIRS))
    cpp_api = scan_headers(header_files(include, CPP_API_HEADER_DIRS, CPP_HEADER_EXCLUDES))
    surface["c_functions"] = c_api.functions | cpp_api.functions
    surface["c_constants"] = c_api.constants | cpp_api.constants
    surface["c_types"] = c_api.types | cpp_api.types
    surface["c_headers"] = {path.relative_to(root).as_posix() for root in (include, include / "third_party" / "hccl" / "inc")
                            for path in header_files(root, ("",)) if root.is_dir()}

    known_env = python_env_vars(package) | header_env_vars(header_files(include, ("",)))
    libraries = sorted(p for p in wheel.package_dir.rglob("*.so*") if p.is_file())
    surface["env_vars"] = known_env | binary_env_vars(binary_strings(libraries), known_env, c_api.constants)
    return surface


# --------------------------------------------------------------------------- torch core

TORCH_MODULES = ("torch", "torch.amp", "torch.accelerator", "torch.backends", "torch.distributed",
                 "torch.nn", "torch.nn.functional", "torch.nn.parallel", "torch.utils.data",
                 "torch.utils.cpp_extension")


def defined_outside_torch(obj) -> bool:
    """True for re-bound stdlib/typing helpers (torch.nn.functional.math, ...Optional)."""
    import inspect
    origin = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None)
    return isinstance(origin, str) and origin.split(".")[0] != "torch"


def torch_public_members(owner) -> list[str]:
    return [name for name in dir(owner) if is_public(name)]


def torch_instance_members(instance) -> set[str]:
    """Public attributes of a settings object such as torch.backends.cuda.matmul, including
    the names its __getattr__/__setattr__ serve (read from their source, as for torch_npu)."""
    import inspect
    import textwrap

    members = set(torch_public_members(instance))
    for hook in ("__getattr__", "__setattr__"):
        method = type(instance).__dict__.get(hook)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        except (TypeError, OSError, SyntaxError):
            continue
        members |= compared_strings(tree.body[0], 1)
    return {m for m in members if is_public(m)}


def torch_module_members(module) -> list[str]:
    """dir() plus lazily served __all__ names and properties of a module subclass
    (torch.backends.cudnn.deterministic lives on the module's class)."""
    import types

    names = set(dir(module)) | set(getattr(module, "__all__", ()))
    if type(module) is not types.ModuleType:
        names |= set(dir(type(module))) - set(dir(types.ModuleType))
    return sorted(name for name in names if is_public(name))


def extract_torch() -> tuple[str, dict[str, set[str]]]:
    import importlib
    import inspect
    import pkgutil
    import warnings

    import torch

    warnings.simplefilter("ignore")  # deprecated aliases warn when touched by getattr

    modules = list(TORCH_MODULES)
    backends = importlib.import_module("torch.backends")
    modules += sorted(f"torch.backends.{info.name}" for info in pkgutil.iter_modules(backends.__path__)
                      if is_public(info.name))
    surface = empty_surface()
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # an optional backend may fail to import on this build
            print(f"warning: skipped {module_name}: {error}", file=sys.stderr)
            continue
        surface["python"].add(module_name)
        for name in torch_module_members(module):
            member = getattr(module, name, None)
            if member is None and not hasattr(module, name) or defined_outside_torch(member):
                continue
            surface["python"].add(f"{module_name}.{name}")
            if inspect.isclass(member):
                members = torch_public_members(member)
            elif type(member).__module__.startswith("torch.") and not callable(member):
                members = torch_instance_members(member)
            else:
                continue
            surface["python"] |= {f"{module_name}.{name}.{m}" for m in members}
    surface["tensor_methods"] = set(torch_public_members(torch.Tensor))
    surface["module_methods"] = set(torch_public_members(torch.nn.Module))
    return torch.__version__, surface


# --------------------------------------------------------------------------- output

def snapshot(package: str, version: str, extracted_from: str, surface: dict[str, set[str]]) -> dict:
    header = {"package": package, "version": version, "extracted_from": extracted_from,
              "extractor": EXTRACTOR}
    return header | {ns: sorted(surface[ns]) for ns in NAMESPACES}


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(f"{ns}={len(data[ns])}" for ns in NAMESPACES)
    print(f"wrote {path} ({path.stat().st_size} bytes): {counts}")


def extract_from(wheel_path: Path, package: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = unpack(wheel_path, Path(scratch)) if wheel_path.is_file() else wheel_path
        version, file_name = read_wheel_metadata(root, package)
        wheel = Wheel(root, package, version, file_name)
        data = snapshot(package, version, file_name, extract_package(wheel))
        return data | {"signatures": op_signatures(wheel)}  # parameter names of the ops, for call rewrites


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="torch_npu .whl or its unzipped directory")
    parser.add_argument("-o", "--out", type=Path, required=True, help="snapshot JSON for the wheel's package")
    parser.add_argument("--package", default="torch_npu", help="top-level package inside the wheel")
    parser.add_argument("--torch-out", type=Path, help="also snapshot the installed torch to this JSON")
    args = parser.parse_args(argv)

    write_json(extract_from(args.wheel, args.package), args.out)
    if args.torch_out:
        from importlib.metadata import version as dist_version

        full_version, surface = extract_torch()
        base_version = full_version.split("+")[0]
        write_json(snapshot("torch", base_version, f"torch {dist_version('torch')} (installed)", surface),
                   args.torch_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
