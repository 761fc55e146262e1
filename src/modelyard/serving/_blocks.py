"""Feeds backed by a few blocks: one array per column kind instead of one per column.

:class:`~modelyard.serving._feed_plan.FeedPlan` builds a request's feeds as a float64
block (every numeric and boolean column), an object block (categorical columns) and an
int64 block (datetimes), each ``[k, N, 1]``; the feed of a column is a contiguous view
``block[i]`` (what ONNX Runtime reads without a copy). :class:`BlockFeeds` is a
read-only mapping of those views plus the blocks, so the steps that touch every request
of a batch work per block, not per column:

- the batcher concatenates a batch's requests with one call per block
  (:meth:`BlockFeeds.concat`), not one per column;
- the prediction log keys and converts a batch by its blocks.

Nearly every request is one row, and most of a batched request's feeds are never
looked at by column: only the batch's are. So a one-row request keeps its checked
values as Python tuples (:meth:`BlockFeeds.row`, one per block), the batch turns the
tuples of all its requests into arrays with one numpy call per block, and the
per-column views are made only when something reads the feeds as a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np

__all__ = ["BlockFeeds", "BlockLayout", "same_columns"]


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

    @cached_property
    def names(self) -> frozenset[str]:
        """The columns, for membership tests."""
        return frozenset(self.order)

    def stack(self, rows: Sequence[tuple[Sequence[Any], ...]]) -> tuple[np.ndarray, ...]:
        """The blocks of one-row requests (see :meth:`BlockFeeds.row`: no None among
        the values of a float block), one numpy call each: row ``r`` is ``rows[r]``."""
        k = len(rows)
        blocks = []
        for j, (names, dtype) in enumerate(self.blocks):
            width = len(names)
            flat = chain.from_iterable([row[j] for row in rows])
            matrix = np.fromiter(flat, dtype=dtype, count=k * width).reshape(k, width)
            blocks.append(matrix.T.copy().reshape(width, k, 1))
        return tuple(blocks)


class BlockFeeds(Mapping[str, np.ndarray]):
    """Feeds whose arrays are views of :attr:`blocks`, in the layout's order.

    A read-only mapping of column name to ``[N, 1]`` array.

    Args:
        layout: What the blocks hold (shared by every request to one model).
        blocks: The arrays, one per ``layout.blocks`` entry, ``[k, N, 1]`` each.
    """

    __slots__ = ("_blocks", "_row", "_views", "layout", "rows")

    def __init__(self, layout: BlockLayout, blocks: Sequence[np.ndarray]) -> None:
        self.layout = layout
        self._blocks: tuple[np.ndarray, ...] | None = tuple(blocks)
        self._row: tuple[Sequence[Any], ...] | None = None
        self._views: dict[str, np.ndarray] | None = None
        self.rows = int(self._blocks[0].shape[1]) if self._blocks else 0

    @classmethod
    def row(cls, layout: BlockLayout, values: tuple[Sequence[Any], ...]) -> BlockFeeds:
        """One row, as the checked values of each block (in the block's column order,
        each convertible to the block's dtype: NaN, not None, for a missing number; the
        caller checked them); arrays only when needed."""
        feeds = cls.__new__(cls)
        feeds.layout = layout
        feeds._blocks = None
        feeds._row = values
        feeds._views = None
        feeds.rows = 1
        return feeds

    @property
    def blocks(self) -> tuple[np.ndarray, ...]:
        """The arrays, ``[k, N, 1]`` each (made from the row's values on first use)."""
        blocks = self._blocks
        if blocks is None:  # a row's values (one of the two is always set)
            blocks = self._blocks = self.layout.stack([self._row or ()])
        return blocks

    def as_dict(self) -> dict[str, np.ndarray]:
        """The feeds as a plain dict (made once; do not modify it)."""
        views = self._views
        if views is None:
            # Iterating a block yields its column views, and map/zip place them in feed
            # order, all in C: no Python-level loop per column.
            flat = list(chain.from_iterable(self.blocks))
            layout = self.layout
            views = dict(zip(layout.order, map(flat.__getitem__, layout.positions), strict=True))
            self._views = views
        return views

    def __getitem__(self, name: str) -> np.ndarray:
        return self.as_dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layout.order)

    def __len__(self) -> int:
        return len(self.layout.order)

    def __contains__(self, name: object) -> bool:
        return name in self.layout.names

    def __repr__(self) -> str:
        return f"BlockFeeds({len(self)} columns, {self.rows} rows)"

    @staticmethod
    def concat(parts: Sequence[object]) -> BlockFeeds | None:
        """The rows of ``parts`` one after another, block by block; None unless every
        part is a ``BlockFeeds`` of one layout (then concatenate column by column)."""
        first = parts[0]
        if not isinstance(first, BlockFeeds):
            return None
        layout = first.layout
        feeds: list[BlockFeeds] = []
        for part in parts:
            if not isinstance(part, BlockFeeds) or part.layout is not layout:
                return None
            feeds.append(part)
        rows = [f._row for f in feeds if f._blocks is None and f._row is not None]
        if len(rows) == len(feeds):  # one-row requests: one numpy call per block for all
            return BlockFeeds(layout, layout.stack(rows))
        blocks = [
            np.concatenate([f.blocks[j] for f in feeds], axis=1) for j in range(len(layout.blocks))
        ]
        return BlockFeeds(layout, blocks)


def same_columns(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two feeds have the same columns (one model's feeds share a layout)."""
    if type(a) is BlockFeeds and type(b) is BlockFeeds and a.layout is b.layout:
        return True
    return a.keys() == b.keys()
