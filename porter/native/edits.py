"""Byte-range edits on a native file, applied from the end of the buffer backwards.

An edit replaces one syntax node's bytes. A call rewrite's replacement is a template over its arguments'
byte ranges; the arguments are rendered with the edits inside them first, so edits nest (a renamed enum
inside a rewritten call both apply). Where two edits overlap without nesting, the outer one wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    template: str  # literal text, or text with {name} placeholders filled from `slots`
    slots: dict[str, tuple[int, int]] = field(default_factory=dict, hash=False, compare=False)


def _outermost(edits: list[Edit], start: int, end: int) -> list[Edit]:
    """Edits inside [start, end) that no other edit there contains, in source order."""
    inside = sorted((e for e in edits if start <= e.start and e.end <= end),
                    key=lambda e: (e.start, -(e.end - e.start)))
    chosen: list[Edit] = []
    for edit in inside:
        if chosen and edit.start < chosen[-1].end:
            continue  # nested in (or overlapping) the previous one: that edit renders it
        chosen.append(edit)
    return chosen


def render(data: bytes, edits: list[Edit], start: int = 0, end: int | None = None) -> bytes:
    end = len(data) if end is None else end
    out = bytearray(data[start:end])
    for edit in reversed(_outermost(edits, start, end)):
        inner = [e for e in edits if e is not edit]

        def fill(match: re.Match, edit: Edit = edit, inner: list[Edit] = inner) -> str:
            slot_start, slot_end = edit.slots[match.group(1)]
            return render(data, inner, slot_start, slot_end).decode("utf-8", errors="surrogateescape")

        replacement = _PLACEHOLDER.sub(fill, edit.template) if edit.slots else edit.template
        out[edit.start - start : edit.end - start] = replacement.encode("utf-8", errors="surrogateescape")
    return bytes(out)
