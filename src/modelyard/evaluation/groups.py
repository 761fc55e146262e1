"""Rows into named groups by one column, for slices and fairness.

A numeric (or datetime) column with more than 10 distinct values is cut at its
quartiles into ``"[a, b)"`` bins (the last one closed, ``"[a, b]"``); any other
column groups by value, the 19 most frequent values by name and the rest as
``"(other)"``. Missing values form ``"(missing)"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from modelyard.exceptions import ValidationError

__all__ = ["MAX_VALUES", "MISSING", "OTHER", "check_columns", "datetime_ns", "group_labels"]

MAX_VALUES = 20
MISSING = "(missing)"
OTHER = "(other)"
_FEW_DISTINCT = 10
_QUARTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_columns(frame: pd.DataFrame, names: Sequence[str], role: str) -> list[str]:
    """``names`` checked against the columns of ``frame``.

    Raises:
        ValidationError: A name that is not a column (the message lists the columns).
    """
    if isinstance(names, str):
        names = [names]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValidationError(
            f"{role} column(s) {', '.join(map(repr, missing))} not in the data; "
            f"valid columns: {', '.join(map(str, frame.columns))}",
            columns=missing,
        )
    return list(dict.fromkeys(names))


def datetime_ns(column: pd.Series) -> np.ndarray:
    """A datetime column as float nanoseconds since the epoch (UTC), NaN for NaT.

    Whatever the column's unit (pandas may store seconds to nanoseconds) or time zone.
    """
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = column.astype("datetime64[ns]").astype("int64").to_numpy(dtype=np.float64)
    return np.asarray(np.where(column.isna().to_numpy(), np.nan, ns))


def group_labels(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's group name, and the groups in display order.

    Returns:
        ``(labels, order)``: an object array with one name per row, and the distinct
        names (bins in ascending order, values by falling frequency, then ``(other)``
        and ``(missing)``).
    """
    is_time = pd.api.types.is_datetime64_any_dtype(column)
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if (numeric or is_time) and column.nunique() > _FEW_DISTINCT:
        return _binned(column, is_time)
    return _by_value(column)


def _fmt(value: float, is_time: bool) -> str:
    return str(pd.Timestamp(int(value))) if is_time else f"{value:.6g}"


def _binned(column: pd.Series, is_time: bool) -> tuple[np.ndarray, list[str]]:
    values = datetime_ns(column) if is_time else column.to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(values)
    edges = np.unique(np.quantile(values[known], _QUARTILES))
    names = [
        f"[{_fmt(low, is_time)}, {_fmt(high, is_time)})" for low, high in pairwise(edges.tolist())
    ] or [f"[{_fmt(edges[0], is_time)}, {_fmt(edges[0], is_time)}]"]
    names[-1] = names[-1][:-1] + "]"
    labels = np.full(len(values), MISSING, dtype=object)
    bins = np.searchsorted(edges[1:-1], values[known], side="right")
    labels[known] = np.asarray(names, dtype=object)[bins]
    order = names + ([MISSING] if not known.all() else [])
    return labels, order


def _by_value(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    known = column.notna().to_numpy()
    text = column[known].astype(str)
    counts = text.value_counts(sort=False)
    ranked = sorted(counts.index, key=lambda v: (-counts[v], v))
    kept = ranked if len(ranked) <= MAX_VALUES else ranked[: MAX_VALUES - 1]
    labels = np.full(len(column), MISSING, dtype=object)
    named = text.to_numpy(dtype=object)
    labels[known] = np.where(np.isin(named, kept), named, OTHER)
    order = list(kept) + ([OTHER] if len(kept) < len(ranked) else [])
    return labels, order + ([MISSING] if not known.all() else [])
