"""An independent check of a finished port: compares each source file with its output and the report's findings,
and lists behaviour changes no rewrite may make. Used by the tests on every fixture and by hand on real trees:

    python -m porter.audit SRC DST            (reads DST/porter-report/report.json)

It re-derives everything from the source text, the output text and the findings, not from porter's internals,
so a bug in a rewrite cannot hide itself from it.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from porter.python.backends import Markers, markers_of

KINDS = ("duplicate-condition", "equal-values", "other-backend-edited", "torch-npu-import", "flipped-guard",
         "cuda-token-unreported")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.detail}"


def _dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False)


def _chains(tree: ast.Module) -> list[list[ast.expr]]:
    """The tests of every if/elif chain and the operands of every `and`/`or`."""
    chains, elifs = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and id(node) not in elifs:
            tests, current = [node.test], node
            while len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
                elifs.add(id(current))
                tests.append(current.test)
            chains.append(tests)
        elif isinstance(node, ast.BoolOp):
            chains.append(node.values)
    return chains


def _duplicated(chains: list[list[ast.expr]]) -> Counter:
    found = Counter()
    for tests in chains:
        counts = Counter(_dump(t) for t in tests)
        found.update(d for d, n in counts.items() if n > 1)
    return found


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _value_groups(tree: ast.Module) -> list[tuple[int, list[str]]]:
    """String constants of each module/class scope, and the string keys or items of each literal collection."""
    groups = []
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]:
        values = [_string(s.value) for s in scope.body if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value]
        groups.append((getattr(scope, "lineno", 1), [v for v in values if v is not None]))
    for node in ast.walk(tree):
        items = node.keys if isinstance(node, ast.Dict) else node.elts if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else ()
        strings = [s for s in map(_string, items) if s is not None]
        if len(strings) > 1:
            groups.append((node.lineno, strings))
    return groups


def _equal_pairs(groups) -> Counter:
    found = Counter()
    for _line, values in groups:
        found.update(v for v, n in Counter(values).items() if n > 1)
    return found


def _top_level_imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(modules imported unconditionally at module level, modules imported anywhere at module level)."""
    plain, anywhere = set(), set()

    def names(stmt):
        if isinstance(stmt, ast.Import):
            return {a.name.split(".")[0] for a in stmt.names}
        if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            return {stmt.module.split(".")[0]}
        return set()

    for stmt in tree.body:
        plain |= names(stmt)
        for inner in ast.walk(stmt):
            if not isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                anywhere |= names(inner)
    return plain, anywhere


class _LineMap:
    """Which source lines an edit touched, and where an output line came from."""

    def __init__(self, src: list[str], dst: list[str]) -> None:
        self.changed: set[int] = set()
        self.src_of: dict[int, int] = {}
        self.changed_block: dict[int, tuple[int, int]] = {}
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, src, dst, autojunk=False).get_opcodes():
            if tag == "equal":
                self.src_of.update((j1 + k + 1, i1 + k + 1) for k in range(i2 - i1))
            else:
                self.changed.update(range(i1 + 1, i2 + 1))
                self.changed_block.update((j, (i1 + 1, max(i2, i1 + 1))) for j in range(j1 + 1, j2 + 1))

    def touched(self, first: int, last: int) -> bool:
        return any(first <= line <= last for line in self.changed)


def _names_in(node: ast.AST) -> list[str]:
    names = []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            names.append(inner.id)
        elif isinstance(inner, ast.Attribute):
            names.append(inner.attr)
    return names


def _test_backends(test: ast.expr, markers: Markers) -> set[str]:
    found = set()
    for name in _names_in(test):
        found |= markers.name_backends(name, dispatch_only=True)
    for inner in ast.walk(test):
        if (value := _string(inner)) is not None:
            found |= markers.value_backends(value)
    return found


def _end(node: ast.AST) -> int:
    return getattr(node, "end_lineno", None) or node.lineno


def _other_backend_regions(tree: ast.Module, path: str, markers: Markers) -> list[tuple[int, int, str]]:
    """Line ranges that implement or are guarded by a backend other than the source one."""
    regions = []
    others = markers.path_backends(path) - {markers.source.name}
    if others:
        regions.append((1, 10**9, f"the file implements {', '.join(sorted(others))}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            named = markers.name_backends(node.name) - {markers.source.name}
            if named:
                regions.append((node.lineno, _end(node), f"class {node.name} implements {', '.join(sorted(named))}"))
        elif isinstance(node, ast.If):
            named = _test_backends(node.test, markers)
            if named and markers.source.name not in named and node.body:
                regions.append((node.body[0].lineno, _end(node.body[-1]),
                                f"branch guarded by {', '.join(sorted(named))} (line {node.lineno})"))
    return regions


def _code_tokens(text: str, tree: ast.Module):
    """NAME and STRING tokens outside comments, docstrings and prose strings (text with spaces is log text)."""
    docstrings = {n.body[0].value.lineno for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and _string(n.body[0].value) is not None}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME:
            yield tok
        elif tok.type == tokenize.STRING and tok.start[0] not in docstrings:
            body = tok.string.lstrip("rbuRBUfF").strip("'\"")
            if tok.string[:2].lower() in ("f'", 'f"', "rf", "fr"):  # placeholders are code, judged as names
                body = re.sub(r"\{[^{}]*\}", "", body)
                tok = tok._replace(string=body)
            if not any(c.isspace() for c in body):
                yield tok
        elif sys.version_info >= (3, 12) and tok.type == tokenize.FSTRING_START:
            yield tok


def _covered(line: int, col: int, findings: list[dict]) -> bool:
    for f in findings:
        span = f.get("span")
        if not span:
            continue
        start, end = (span["line"], span["column"] - 1), (span["end_line"], span["end_column"])
        if start <= (line, col) <= end:
            return True
    return False


def audit_file(path: str, src: str, dst: str, findings: list[dict], markers: Markers) -> list[Violation]:
    """Behaviour changes in one ported Python file (`dst` is `src` for a file porter left unchanged)."""
    try:
        src_tree, dst_tree = ast.parse(src), ast.parse(dst)
    except SyntaxError:
        return []
    violations = []
    lines = _LineMap(src.splitlines(), dst.splitlines())
    new_dups = _duplicated(_chains(dst_tree)) - _duplicated(_chains(src_tree))
    violations += [Violation(path, 0, "duplicate-condition", d[:120]) for d in new_dups]
    new_equal = _equal_pairs(_value_groups(dst_tree)) - _equal_pairs(_value_groups(src_tree))
    violations += [Violation(path, 0, "equal-values", repr(v)) for v in new_equal]
    if src != dst:
        for first, last, why in _other_backend_regions(src_tree, path, markers):
            if lines.touched(first, last):
                line = min(n for n in lines.changed if first <= n <= last)
                violations.append(Violation(path, line, "other-backend-edited", why))
        violations += _flipped_guards(path, src_tree, dst, lines, markers)
    plain, anywhere = _top_level_imports(src_tree)
    if "torch_npu" in _top_level_imports(dst_tree)[1] - anywhere:
        if "torch" not in plain or path.rsplit("/", 1)[-1] == "setup.py":
            violations.append(Violation(path, 0, "torch-npu-import", "added without an unconditional `import torch`"))
    violations += _unreported_tokens(path, src, dst, dst_tree, lines, findings, markers)
    return violations


def _flipped_guards(path, src_tree, dst, lines: _LineMap, markers: Markers) -> list[Violation]:
    """An `if` whose test changed while its body still holds something CUDA-specific in the output."""
    cuda_lines = {tok.start[0] for tok in _code_tokens(dst, ast.parse(dst)) if markers.mentions_source(tok.string)}
    out_lines = {src: out for out, src in lines.src_of.items()}
    found = []
    for node in ast.walk(src_tree):
        if not isinstance(node, ast.If) or not node.body or not lines.touched(node.test.lineno, _end(node.test)):
            continue
        first, last = node.body[0].lineno, _end(node.body[-1])
        kept = [out_lines[n] for n in range(first, last + 1) if n in out_lines]
        if any(n in cuda_lines for n in kept):
            found.append(Violation(path, node.lineno, "flipped-guard", "test changed, body still CUDA-specific"))
    return found


def _unreported_tokens(path, src, dst, dst_tree, lines: _LineMap, findings, markers: Markers) -> list[Violation]:
    reported_names = {f.get("original") for f in findings}
    found = []
    for tok in _code_tokens(dst, dst_tree):
        if not markers.mentions_source(tok.string):
            continue
        line, col = tok.start
        if line in lines.src_of:
            if _covered(lines.src_of[line], col, findings) or tok.string in reported_names:
                continue
        else:
            first, last = lines.changed_block.get(line, (0, -1))
            if any(f.get("span") and first <= f["span"]["line"] <= last for f in findings):
                continue
        found.append(Violation(path, line, "cuda-token-unreported", tok.string[:60]))
    return found


def audit_tree(src_root: Path, dst_root: Path, report: dict, markers: Markers) -> list[Violation]:
    by_path = {f["path"]: f for f in report["files"]}
    violations = []
    for path, result in sorted(by_path.items()):
        if result["kind"] != "python" or result["outcome"] == "error":
            continue
        try:
            src = (src_root / path).read_text(encoding="utf-8")
            dst = (dst_root / path).read_text(encoding="utf-8") if dst_root != src_root else src
        except (OSError, UnicodeDecodeError):
            continue
        violations += audit_file(path, src, dst, result["findings"], markers)
    return violations


def markers_from_rules() -> Markers:
    from porter.ruleset import load_ruleset
    from porter.surface import available_versions

    return markers_of(load_ruleset(available_versions("torch_npu")[-1]))


def main(argv: list[str]) -> int:
    src, dst = Path(argv[0]), Path(argv[1])
    report = json.loads((dst / "porter-report" / "report.json").read_text(encoding="utf-8"))
    violations = audit_tree(src, dst, report, markers_from_rules())
    for violation in violations:
        print(violation)
    counts = Counter(v.kind for v in violations)
    print("totals:", ", ".join(f"{k}={counts.get(k, 0)}" for k in KINDS))
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
