"""Feeds backed by a few blocks: one array per column kind instead of one per column.

:class:`~modelyard.serving._feed_plan.FeedPlan` builds a request's feeds as a float64
block (every numeric and boolean column), an object block (categorical columns) and an
int64 block (datetimes), each ``[k, N, 1]``; the feed of a column is a contiguous view
``block[i]`` (what ONNX Runtime reads without a copy). :class:`BlockFeeds` is that dict
of views plus the blocks, so the steps that touch every request of a batch work per
block, not per column:

- the batcher concatenates a batch's requests with one call per block
  (:meth:`BlockFeeds.concat`), not one per column;
- the prediction log keys and converts a batch by its blocks.

A ``BlockFeeds`` is a plain ``dict`` to everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import numpy as np

__all__ = ["BlockFeeds", "BlockLayout"]


@dataclass(frozen=True)
class BlockLayout:
    """Which columns each block holds, and the feed order (computed once per model).

    Attributes:
        order: The column names in feed order (the signature's).
        blocks: The names in each block, and the block's dtype (numpy ``dtype.str``).
    """

    order: tuple[str, ...]
    blocks: tuple[tuple[tuple[str, ...], str], ...]

    @cached_property
    def positions(self) -> tuple[int, ...]:
        """For each column in :attr:`order`, its index among the blocks' columns taken
        one block after another."""
        flat = list(chain.from_iterable(names for names, _ in self.blocks))
        return tuple(flat.index(name) for name in self.order)


class BlockFeeds(dict[str, np.ndarray]):
    """Feeds whose arrays are views of :attr:`blocks`, in the layout's order.

    Args:
        layout: What the blocks hold (shared by every request to one model).
        blocks: The arrays, one per ``layout.blocks`` entry, ``[k, N, 1]`` each.
    """

    __slots__ = ("blocks", "layout")

    def __init__(self, layout: BlockLayout, blocks: Sequence[np.ndarray]) -> None:
        # Iterating a block yields its column views, and map/zip place them in feed
        # order, all in C: no Python-level loop per column.
        views = list(chain.from_iterable(blocks))
        super().__init__(zip(layout.order, map(views.__getitem__, layout.positions), strict=True))
        self.layout = layout
        self.blocks = tuple(blocks)

    @property
    def rows(self) -> int:
        """N: the rows of every column."""
        return int(self.blocks[0].shape[1]) if self.blocks else 0

    @staticmethod
    def concat(parts: Sequence[object]) -> BlockFeeds | None:
        """The rows of ``parts`` one after another, block by block; None unless every
        part is a ``BlockFeeds`` of one layout (then concatenate column by column)."""
        first = parts[0]
        if not isinstance(first, BlockFeeds):
            return None
        layout = first.layout
        for part in parts:
            if not isinstance(part, BlockFeeds) or part.layout is not layout:
                return None
        blocks = [
            np.concatenate([p.blocks[j] for p in parts], axis=1)  # type: ignore[attr-defined]
            for j in range(len(first.blocks))
        ]
        return BlockFeeds(layout, blocks)
