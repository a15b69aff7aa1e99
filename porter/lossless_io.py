"""Reading and writing source text without losing its bytes: PEP 263 cookies, BOMs and line endings survive."""

from __future__ import annotations

import codecs
import io
import itertools
import os
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG


class UndecodableError(ValueError):
    pass


@dataclass(frozen=True)
class DecodedSource:
    text: str
    encoding: str  # as declared (cookie) or utf-8
    bom: bool

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def decode_python(data: bytes) -> DecodedSource:
    """Decode as Python does: BOM, then a PEP 263 coding cookie, else UTF-8. Newlines are kept as they are."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise UndecodableError(str(exc)) from exc
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UndecodableError(f"not valid {codec}: {exc}") from exc
    return DecodedSource(text=text, encoding=codec, bom=bom)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_DEFAULT_MODE = 0o666 & ~_umask()  # read once: os.umask can only be read by setting it


_TEMPORARY = itertools.count()


@contextmanager
def _replacing(path: Path) -> Iterator[tuple[int, str]]:
    """A new file in `path`'s folder, open for writing (its descriptor and name), renamed over `path` when the block
    succeeds and removed when it fails. Its name holds the pid, so no other process uses it; the folder is made
    only when it is missing (a run writes thousands of files)."""
    name = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{next(_TEMPORARY)}.porter-tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(name, flags, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(name, flags, 0o600)
    try:
        yield fd, name
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path in `path`'s folder, renamed over `path` when the block succeeds and removed when it
    fails: readers never see a truncated file."""
    with _replacing(path) as (fd, name):
        os.close(fd)
        yield Path(name)


def replace_unsynced(path: Path, data: bytes) -> None:
    """`path` holding `data`, replaced as atomic_target replaces it (readers see the old file or the new one), but
    written through the one open and without fsync: for files whose reader checks them (the result cache)."""
    with _replacing(path) as (fd, _), open(fd, "wb") as handle:
        handle.write(data)


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """A file that already holds `data` with that mode is left as it is: a re-run into the same output writes only
    what differs (each write is an fsync)."""
    if _holds(path, data, _DEFAULT_MODE if mode is None else mode):
        return
    with atomic_target(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _DEFAULT_MODE if mode is None else mode)


def _holds(path: Path, data: bytes, mode: int) -> bool:
    try:
        stat = path.lstat()
        return (S_ISREG(stat.st_mode) and stat.st_size == len(data) and stat.st_mode & 0o7777 == mode
                and path.read_bytes() == data)
    except OSError:
        return False
