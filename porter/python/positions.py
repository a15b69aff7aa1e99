"""Positions of every node, generated once per module without libcst's extra walk.

libcst's resolver runs, besides a provider that is not batchable (PositionProvider computes positions by generating
the module's code), a batched walk of the whole tree with no visitor in the batch (libcst 1.9,
`metadata.wrapper._gen_batchable`): as costly as generating the positions themselves. porter generates them
directly and stores them where the wrapper looks first, so the rule pass's resolve finds them done.
"""

from __future__ import annotations

from libcst.metadata import MetadataWrapper, PositionProvider


def resolve_positions(wrapper: MetadataWrapper) -> None:
    metadata = getattr(wrapper, "_metadata", None)
    if not isinstance(metadata, dict):  # another libcst: its own resolver
        wrapper.resolve(PositionProvider)
    elif PositionProvider not in metadata:
        metadata[PositionProvider] = PositionProvider()._gen(wrapper)
