"""skl2onnx shape calculators and converters for modelyard's preprocessing steps.

Covers the custom transformers of :mod:`modelyard.features.transformers` (``AsFloat``,
``AsObject``, ``Log1p``, ``DatetimeFeatures``) and the stand-ins of
:mod:`modelyard.registry._onnx_rewrite` (``FillMissing``, ``MissingFlag``, ``Bins``).
Inputs follow the serving convention: numbers and booleans arrive as double with ``NaN``
for missing, text as strings with ``""`` for missing, datetimes as int64 nanoseconds
since the epoch (UTC) with ``INT64_MIN`` for missing. Every step computes in double,
as scikit-learn does, so the converted features equal the native ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from modelyard.registry._onnx_datetime import convert_datetime, shape_datetime
from modelyard.registry._onnx_encoders import Lookup, convert_lookup, shape_lookup
from modelyard.registry._onnx_graph import (
    Unconvertible,
    add_const,
    add_node,
    columns_of,
    expect_kind,
    input_kind,
    missing_mask,
    set_output,
)

__all__ = ["register_preprocessing"]


# --- AsFloat, AsObject, Log1p: identity or one elementwise op -------------------------------


def _shape_as_float(operator: Any) -> None:
    expect_kind(operator, "double", "numbers or booleans as double")
    set_output(operator, "double", columns_of(operator))


def _shape_as_object(operator: Any) -> None:
    if operator.raw_operator.stringify is not True:
        raise Unconvertible("AsObject(stringify=False) is converted only as a missing indicator")
    expect_kind(operator, "string", "categories as text")
    set_output(operator, "string", columns_of(operator))


def _convert_identity(scope: Any, operator: Any, container: Any) -> None:
    add_node(
        scope, container, "Identity", [operator.inputs[0].full_name], operator.outputs[0].full_name
    )


def _convert_log1p(scope: Any, operator: Any, container: Any) -> None:
    # NaN passes through; a negative value (refused natively) gives NaN, never a number
    one = add_const(scope, container, "one", np.array(1.0))
    shifted = add_node(scope, container, "Add", [operator.inputs[0].full_name, one])
    add_node(scope, container, "Log", [shifted], operator.outputs[0].full_name)


# --- FillMissing, MissingFlag ----------------------------------------------------------------


def _shape_fill_missing(operator: Any) -> None:
    kind = input_kind(operator)
    if kind not in ("double", "string"):
        raise Unconvertible(f"SimpleImputer on {kind} input is not converted")
    set_output(operator, kind, columns_of(operator))


def _convert_fill_missing(scope: Any, operator: Any, container: Any) -> None:
    stats = np.asarray(operator.raw_operator.statistics)
    if input_kind(operator) == "string":
        if not all(isinstance(v, str) for v in stats):
            raise Unconvertible(f"SimpleImputer fills text with non-text values {stats.tolist()!r}")
        fill = np.asarray([str(v) for v in stats], dtype=object).reshape(1, -1)
    else:
        fill = stats.astype(np.float64).reshape(1, -1)
    mask = missing_mask(scope, container, operator)
    values = add_const(scope, container, "fill", fill)
    add_node(
        scope,
        container,
        "Where",
        [mask, values, operator.inputs[0].full_name],
        operator.outputs[0].full_name,
    )


def _shape_missing_flag(operator: Any) -> None:
    set_output(operator, "double", 1)


def _convert_missing_flag(scope: Any, operator: Any, container: Any) -> None:
    mask = missing_mask(scope, container, operator)
    add_node(scope, container, "Cast", [mask], operator.outputs[0].full_name, to=TensorProto.DOUBLE)


# --- Bins (KBinsDiscretizer) -----------------------------------------------------------------


def _shape_bins(operator: Any) -> None:
    expect_kind(operator, "double", "numbers as double")
    bins = operator.raw_operator
    width = sum(len(e) + 1 for e in bins.edges) if bins.onehot else len(bins.edges)
    set_output(operator, "double", width)


def _convert_bins(scope: Any, operator: Any, container: Any) -> None:
    # bin = number of inner edges <= x (searchsorted, side="right"); NaN pads shorter rows
    edges = operator.raw_operator.edges
    width = max(1, *(len(e) for e in edges))
    table = np.full((1, len(edges), width), np.nan)
    for j, e in enumerate(edges):
        table[0, j, : len(e)] = e
    axis = add_const(scope, container, "axis", np.array([2], dtype=np.int64))
    x = add_node(scope, container, "Unsqueeze", [operator.inputs[0].full_name, axis])
    below = add_node(
        scope, container, "LessOrEqual", [add_const(scope, container, "edges", table), x]
    )
    counts = add_node(scope, container, "Cast", [below], to=TensorProto.DOUBLE)
    out = operator.outputs[0].full_name
    if not operator.raw_operator.onehot:
        add_node(scope, container, "ReduceSum", [counts, axis], out, keepdims=0)
        return
    bins = add_node(scope, container, "ReduceSum", [counts, axis], keepdims=1)  # [N, cols, 1]
    n_bins = width + 1
    codes = np.full((1, len(edges), n_bins), -1.0)
    keep: list[int] = []
    for j, e in enumerate(edges):
        codes[0, j, : len(e) + 1] = np.arange(len(e) + 1)
        keep.extend(j * n_bins + b for b in range(len(e) + 1))
    hits = add_node(scope, container, "Equal", [bins, add_const(scope, container, "codes", codes)])
    flat_shape = add_const(scope, container, "shape", np.array([0, -1], dtype=np.int64))
    flat = add_node(
        scope,
        container,
        "Reshape",
        [add_node(scope, container, "Cast", [hits], to=TensorProto.DOUBLE), flat_shape],
    )
    index = add_const(scope, container, "keep", np.array(keep, dtype=np.int64))
    add_node(scope, container, "Gather", [flat, index], out, axis=1)


def register_preprocessing() -> None:
    """Register the converters with skl2onnx (call once, under a lock)."""
    from skl2onnx import update_registered_converter

    from modelyard.features import AsFloat, AsObject, DatetimeFeatures, Log1p
    from modelyard.registry._onnx_rewrite import Bins, FillMissing, MissingFlag

    table = [
        (AsFloat, _shape_as_float, _convert_identity),
        (AsObject, _shape_as_object, _convert_identity),
        (Log1p, _shape_as_float, _convert_log1p),
        (DatetimeFeatures, shape_datetime, convert_datetime),
        (FillMissing, _shape_fill_missing, _convert_fill_missing),
        (MissingFlag, _shape_missing_flag, _convert_missing_flag),
        (Bins, _shape_bins, _convert_bins),
        (Lookup, shape_lookup, convert_lookup),
    ]
    for cls, shape, convert in table:
        update_registered_converter(cls, f"Modelyard{cls.__name__}", shape, convert)
