"""The tiling every generated kernel uses, as a Python model of the generated `*_tiling.h` (tests run both).

The length is cut into 32-byte blocks (the unit `DataCopy` moves); the blocks are shared out over at most
`max_cores` cores, the first `extra` cores taking one more, so only the last core can end in a partial block.
Each core walks its share in tiles of `tile_bytes`; a tile whose byte length is not a multiple of 32 is moved
with `DataCopyPad` instead of `DataCopy`.
"""

from __future__ import annotations

ALIGN_BYTES = 32
TILE_GRANULE = 256  # bytes: one vector repeat, so full tiles need no masking


def tile_bytes(buffers: int, ub_budget: int) -> int:
    """The largest tile (bytes, a multiple of 256) such that `buffers` of them fit in the unified-buffer budget."""
    size = ub_budget // max(buffers, 1) // TILE_GRANULE * TILE_GRANULE
    if size < TILE_GRANULE:
        raise ValueError(f"{buffers} buffers do not fit in {ub_budget} bytes of unified buffer")
    return size


def block_dim(total: int, dtype_size: int, max_cores: int) -> int:
    """Cores to launch: never more than there are 32-byte blocks, none for an empty tensor."""
    align = ALIGN_BYTES // dtype_size
    return min(max_cores, (total + align - 1) // align)


def core_range(total: int, dtype_size: int, cores: int, index: int) -> tuple[int, int]:
    """(first element, element count) of core `index` of `cores`."""
    align = ALIGN_BYTES // dtype_size
    blocks = (total + align - 1) // align
    base, extra = divmod(blocks, cores)
    first_block = index * base + min(index, extra)
    start = first_block * align
    count = (base + (1 if index < extra else 0)) * align
    return start, max(0, min(count, total - start))


def tiles(length: int, tile_elements: int, dtype_size: int) -> list[tuple[int, int, bool]]:
    """(offset, count, padded) of each tile of one core's share; padded tiles go through DataCopyPad."""
    align = ALIGN_BYTES // dtype_size
    result = []
    for offset in range(0, length, tile_elements):
        count = min(tile_elements, length - offset)
        result.append((offset, count, count % align != 0))
    return result


def coverage(total: int, dtype_size: int, max_cores: int, tile_size_bytes: int) -> list[int]:
    """How many times each element is written by the whole launch (the model's answer to "exactly once?")."""
    hits = [0] * total
    cores = block_dim(total, dtype_size, max_cores)
    for index in range(cores):
        start, length = core_range(total, dtype_size, cores, index)
        for offset, count, _ in tiles(length, tile_size_bytes // dtype_size, dtype_size):
            for element in range(start + offset, start + offset + count):
                hits[element] += 1
    return hits
