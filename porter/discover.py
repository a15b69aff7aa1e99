"""Walking the source tree: what to port, what to copy as is, what to skip (.gitignore, --exclude), and porter's
own files (an earlier run's report, an interrupted run's marker), which are never part of the tree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pathspec

PYTHON_SUFFIXES = {".py", ".pyi"}
NATIVE_SUFFIXES = {".cu", ".cuh", ".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx"}
SCRIPT_SUFFIXES = {".sh", ".bash", ".zsh"}
CONFIG_SUFFIXES = {".yaml", ".yml", ".json", ".cfg", ".ini", ".toml"}
BUILD_NAMES = {"CMakeLists.txt", "Makefile", "setup.cfg", "pyproject.toml", "BUILD", "BUILD.bazel"}
ALWAYS_SKIPPED_DIRS = {"__pycache__"}
REPORT_DIR_NAME = "porter-report"
REPORT_FILES = ("report.json", "report.md", "rules")
INCOMPLETE_MARKER = ".porter-incomplete"  # at the top of an output porter is still writing (or was interrupted)


@dataclass(frozen=True)
class SourceFile:
    relpath: str  # POSIX, relative to the root
    kind: str  # python, native, build, script, config, other, symlink
    port: bool  # False when --include/--exclude leave it out: copied unchanged
    ignored: bool = False  # .gitignore excludes it: copied unchanged, never read


def is_porter_report(directory: Path) -> bool:
    """A report directory an earlier porter run wrote (`--in-place`, `analyze` run inside the tree)."""
    return directory.name == REPORT_DIR_NAME and any((directory / name).exists() for name in REPORT_FILES)


def classify(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    if suffix in PYTHON_SUFFIXES:
        return "python"
    if suffix in NATIVE_SUFFIXES:
        return "native"
    if name in BUILD_NAMES or suffix == ".cmake":
        return "build"
    if suffix in SCRIPT_SUFFIXES:
        return "script"
    if suffix in CONFIG_SUFFIXES:
        return "config"
    return "other"


def _gitignore_spec(root: Path, directory: Path) -> pathspec.PathSpec | None:
    ignore = directory / ".gitignore"
    if not ignore.is_file():
        return None
    try:
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.PathSpec.from_lines("gitignore", lines)


def discover(
    root: Path,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    respect_gitignore: bool = True,
    skip: tuple[Path, ...] = (),
    keep_ignored: bool = False,
) -> tuple[list[SourceFile], list[str]]:
    """All files under `root` (links not followed) and the relative paths .gitignore excludes that were left out
    (a folder ends with `/`). With `keep_ignored`, ignored files are listed too (`ignored=True`) and nothing is
    left out: a ported copy is then complete."""
    include_spec = pathspec.PathSpec.from_lines("gitignore", include) if include else None
    exclude_spec = pathspec.PathSpec.from_lines("gitignore", exclude)
    skip_resolved = {p.resolve() for p in skip}
    files: list[SourceFile] = []
    left_out: list[str] = []
    ignored_dirs: set[str] = set()
    specs: list[tuple[str, pathspec.PathSpec]] = []  # (directory prefix, spec) of the .gitignore files in scope

    def is_ignored(relpath: str, is_dir: bool) -> bool:
        for prefix, spec in specs:
            if relpath.startswith(prefix):
                local = relpath[len(prefix) :] + ("/" if is_dir else "")
                if spec.match_file(local):
                    return True
        return False

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        directory = Path(dirpath)
        rel_dir = directory.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if respect_gitignore:
            spec = _gitignore_spec(root, directory)
            specs[:] = [(p, s) for p, s in specs if prefix.startswith(p)]
            if spec is not None:
                specs.append((prefix, spec))
        in_ignored_dir = rel_dir in ignored_dirs
        kept_dirs = []
        for name in sorted(dirnames):
            rel = prefix + name
            full = directory / name
            if name in ALWAYS_SKIPPED_DIRS or full.resolve() in skip_resolved or is_porter_report(full):
                continue
            ignored = in_ignored_dir or (respect_gitignore and name != ".git" and is_ignored(rel, True))
            if ignored and not keep_ignored:
                left_out.append(rel + "/")
            elif full.is_symlink():
                files.append(SourceFile(rel, "symlink", False, ignored))
            else:
                if ignored:
                    ignored_dirs.add(rel)
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = prefix + name
            if rel == INCOMPLETE_MARKER:
                continue
            ignored = in_ignored_dir or (respect_gitignore and is_ignored(rel, False))
            if ignored and not keep_ignored:
                left_out.append(rel)
            elif (directory / name).is_symlink():
                files.append(SourceFile(rel, "symlink", False, ignored))
            elif ignored:
                files.append(SourceFile(rel, classify(rel), False, True))
            else:
                in_git_dir = rel.startswith(".git/")
                port = not in_git_dir and not exclude_spec.match_file(rel) and (
                    include_spec is None or include_spec.match_file(rel)
                )
                files.append(SourceFile(rel, "other" if in_git_dir else classify(rel), port))
    return files, left_out


def local_modules(files: list[SourceFile]) -> frozenset[str]:
    """Top-level modules the tree itself provides (`pkg/__init__.py`, `mod.py`, also under `src/`)."""
    names = set()
    for source in files:
        parts = source.relpath.split("/")
        if parts[0] == "src":
            parts = parts[1:]
        if source.kind != "python" or not parts:
            continue
        if len(parts) == 1:
            names.add(parts[0].rsplit(".", 1)[0])
        elif len(parts) == 2 and parts[1] == "__init__.py":
            names.add(parts[0])
    return frozenset(names)
