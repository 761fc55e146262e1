"""Column kinds: which preprocessing family (numeric, categorical, boolean, datetime) a column is."""

from __future__ import annotations

import pandas as pd
from pandas.api import types as ptypes

__all__ = ["column_kind", "column_kinds"]

# pandas.api.types.infer_dtype names for object columns, mapped to kinds; anything
# else (strings, mixed values, bytes, periods) is categorical.
_INFERRED = {
    "boolean": "boolean",
    "integer": "numeric",
    "floating": "numeric",
    "mixed-integer-float": "numeric",
    "decimal": "numeric",
    "datetime64": "datetime",
    "datetime": "datetime",
    "date": "datetime",
    "timedelta64": "numeric",
    "timedelta": "numeric",
}


def column_kind(series: pd.Series) -> str:
    """The kind of one column: ``numeric``, ``categorical``, ``boolean`` or ``datetime``.

    Bool and nullable ``boolean`` are boolean; numbers (nullable ``Int64``/``Float64``
    included) and timedeltas are numeric; datetimes (with or without a time zone) are
    datetime; strings (``object``, ``str``, ``string``) and ``category`` are categorical.
    An ``object`` column is judged by its values, so Python bools or dates stored as
    objects get their real kind.

    Args:
        series: The column.

    Returns:
        The kind name.
    """
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_complex_dtype(dtype):
        return "categorical"  # no order, no scale: treat the values as labels
    if ptypes.is_numeric_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype):
        return "numeric"
    if ptypes.is_object_dtype(dtype):
        return _INFERRED.get(ptypes.infer_dtype(series, skipna=True), "categorical")
    return "categorical"


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """The kind of every column of ``frame``, in column order.

    Args:
        frame: The training features.

    Returns:
        ``{column: kind}`` with kinds ``numeric``, ``categorical``, ``boolean``, ``datetime``.

    Example:
        >>> column_kinds(pd.DataFrame({"age": [30], "city": ["Oslo"]}))
        {'age': 'numeric', 'city': 'categorical'}
    """
    return {name: column_kind(frame.iloc[:, i]) for i, name in enumerate(frame.columns)}
