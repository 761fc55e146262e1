"""Category encoders as lookup tables: one-hot, ordinal and target encoding, exactly.

A fitted ``OneHotEncoder``, ``OrdinalEncoder`` or ``TargetEncoder`` maps each input
column's value to a few output numbers, and every unknown value to the same numbers.
So the encoder is read off its own ``transform``: each known level and one unseen
value go through it, and the outputs become a table per column. In the graph, an ai.onnx.ml
``LabelEncoder`` turns text into a row number (unknown text to the last row) and
``Gather`` reads the row, so rare-level grouping, unknown handling and target means are
whatever scikit-learn computed, in double.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from modelyard.registry._onnx_graph import (
    Unconvertible,
    add_const,
    add_node,
    expect_kind,
    set_output,
)

__all__ = ["Lookup", "convert_lookup", "lookup_of", "shape_lookup"]


class Lookup(BaseEstimator):  # type: ignore[misc]
    """Stands in for a fitted category encoder.

    Args:
        levels: Per input column, the known levels (row ``i`` of its table is level ``i``;
            the last row is for unknown values).
        tables: Per input column, a ``(len(levels) + 1, width)`` float64 table.
        order: Where each table column goes in the output (all tables' columns in turn).
    """

    def __init__(self, levels: Any = None, tables: Any = None, order: Any = None) -> None:
        self.levels = levels
        self.tables = tables
        self.order = order


def _unseen(levels: list[list[str]]) -> str:
    known = {v for column in levels for v in column}
    probe = "\x00unseen"
    while probe in known:
        probe += "\x00"
    return probe


def _outputs(encoder: Any, probe: NDArray[np.object_]) -> NDArray[np.float64]:
    name = type(encoder).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unknown categories found": that is the point
        try:
            out = encoder.transform(probe)
        except ValueError as exc:
            raise Unconvertible(f"{name} refuses unknown levels ({exc})") from None
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64)


def lookup_of(encoder: Any) -> Lookup:
    """Read a fitted encoder's output for every known level and one unknown level."""
    name = type(encoder).__name__
    levels = [list(c) for c in encoder.categories_]
    if not all(isinstance(v, str) for column in levels for v in column):
        raise Unconvertible(f"{name} has levels that are not text; only text levels are converted")
    if any(not column for column in levels):
        raise Unconvertible(f"{name} has a column without levels")
    unseen = _unseen(levels)
    base = np.array([column[0] for column in levels], dtype=object)
    owner: dict[int, int] = {}
    outputs = []
    for j, column in enumerate(levels):
        probe = np.tile(base, (len(column) + 1, 1))
        probe[:, j] = [*column, unseen]
        out = _outputs(encoder, probe)
        outputs.append(out)
        for c in np.flatnonzero((out != out[0]).any(axis=0)):
            if owner.setdefault(int(c), j) != j:
                raise Unconvertible(f"{name} mixes input columns in output column {c}")
    width = outputs[0].shape[1]
    # columns that no input changes are constant: the first input's table carries them
    columns = [[c for c in range(width) if owner.get(c, 0) == j] for j in range(len(levels))]
    tables = [outputs[j][:, cols] for j, cols in enumerate(columns)]
    order = [c for cols in columns for c in cols]
    return Lookup(levels, tables, order)


def shape_lookup(operator: Any) -> None:
    """One double output column per encoder output column."""
    expect_kind(operator, "string", "categories as text")
    set_output(operator, "double", len(operator.raw_operator.order))


def convert_lookup(scope: Any, operator: Any, container: Any) -> None:
    """LabelEncoder (text to row) and Gather (row to numbers) per input column."""
    lookup: Lookup = operator.raw_operator
    x = operator.inputs[0].full_name
    blocks = []
    for j, (levels, table) in enumerate(zip(lookup.levels, lookup.tables, strict=True)):
        if table.shape[1] == 0:
            continue
        column = add_node(
            scope,
            container,
            "Gather",
            [x, add_const(scope, container, "j", np.array(j, dtype=np.int64))],
            axis=1,
        )
        row = add_node(
            scope,
            container,
            "LabelEncoder",
            [column],
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=[str(v) for v in levels],
            values_int64s=list(range(len(levels))),
            default_int64=len(levels),
        )
        values = add_const(scope, container, "table", np.asarray(table, dtype=np.float64))
        blocks.append(add_node(scope, container, "Gather", [values, row], axis=0))
    joined = blocks[0] if len(blocks) == 1 else add_node(scope, container, "Concat", blocks, axis=1)
    inverse = np.argsort(np.asarray(lookup.order, dtype=np.int64))
    add_node(
        scope,
        container,
        "Gather",
        [joined, add_const(scope, container, "order", inverse.astype(np.int64))],
        operator.outputs[0].full_name,
        axis=1,
    )
