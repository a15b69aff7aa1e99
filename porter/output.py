"""Writing the output tree: every file lands whole (atomic rename) or not at all; symlinks stay links."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from porter.discover import INCOMPLETE_MARKER
from porter.findings import FileResult, Outcome
from porter.lossless_io import atomic_target, write_atomic

_MARKER_TEXT = """porter is writing this tree, or was interrupted while writing it: it is incomplete.
Run `porter port` again with the same output: it replaces this tree without --force.
"""


def _same_copy(src: Path, dst: Path) -> bool:
    """Whether `dst` is already a copy of `src` (size, modification time and mode, as copystat leaves them)."""
    try:
        a, b = src.stat(), dst.lstat()
    except OSError:
        return False
    return (a.st_size, a.st_mtime_ns, a.st_mode) == (b.st_size, b.st_mtime_ns, b.st_mode)


def _copy_atomic(src: Path, dst: Path) -> None:
    if _same_copy(src, dst):  # a re-run into the same output: most files are there already
        return
    with atomic_target(dst) as tmp:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)


def _relink(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(os.readlink(src), dst)


def write_file(src_root: Path, dst_root: Path, result: FileResult) -> None:
    """Write one file of the output tree. Raises OSError; the caller records it against the file."""
    src, dst = src_root / result.path, dst_root / result.path
    if result.kind == "symlink":
        _relink(src, dst)
    elif result.outcome is Outcome.CONVERTED:
        write_atomic(dst, result.new_bytes, src.stat().st_mode & 0o7777)
    elif result.outcome is not Outcome.ERROR or os.access(src, os.R_OK):
        _copy_atomic(src, dst)


def backup_originals(src_root: Path, backup_root: Path, results: list[FileResult]) -> None:
    """For --in-place: keep the original of every file about to be rewritten, under the same relative path."""
    for result in results:
        if result.outcome is Outcome.CONVERTED:
            _copy_atomic(src_root / result.path, backup_root / result.path)


def mark_incomplete(root: Path) -> Path:
    """Mark an output as being written; the caller removes the marker only once everything else is written, so an
    interrupted run leaves it behind. Raises OSError."""
    marker = root / INCOMPLETE_MARKER
    write_atomic(marker, _MARKER_TEXT.encode())
    return marker


def is_marked_incomplete(root: Path) -> bool:
    return (root / INCOMPLETE_MARKER).is_file()
