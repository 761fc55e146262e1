"""Checking input against a model's signature before it reaches the model.

Names every missing and extra column and every type conflict in one error, so a
caller fixes all of them at once; values that fit are coerced to what training
saw (numbers given as text become numbers, categories become text).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modelyard.exceptions import SignatureError, ValidationError

__all__ = ["EXTRA_MODES", "conform"]

EXTRA_MODES = ("error", "ignore")
_SHOW = 10


def conform(data: Any, signature: dict[str, Any], *, extra: str = "error") -> pd.DataFrame:
    """``data`` as a DataFrame with the signature's columns, in order, with fitting types.

    Args:
        data: A pandas DataFrame, a pyarrow Table or RecordBatch, or a list of
            row dicts.
        signature: The model's signature (``inputs``: name, kind, used, ...).
        extra: ``error`` (default) refuses columns the model does not know;
            ``ignore`` drops them.

    Raises:
        SignatureError: Missing columns, extra columns (with ``extra="error"``)
            or values whose type conflicts with the signature; all are named.
        ValidationError: ``data`` is not a table, or ``extra`` is not valid.
    """
    if extra not in EXTRA_MODES:
        raise ValidationError(f"extra={extra!r} is not one of {', '.join(EXTRA_MODES)}")
    frame = _as_frame(data)
    inputs = signature["inputs"]
    known = {c["name"] for c in inputs}
    missing = [c["name"] for c in inputs if c.get("used", True) and c["name"] not in frame.columns]
    extras = [str(c) for c in frame.columns if str(c) not in known]
    conflicts: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    for column in inputs:
        name = column["name"]
        if name not in frame.columns:
            columns[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            continue
        value, problem = _coerce(frame[name], column)
        if problem is not None:
            conflicts[name] = problem
        columns[name] = value
    if missing or conflicts or (extras and extra == "error"):
        raise _mismatch(missing, extras if extra == "error" else [], conflicts)
    return pd.DataFrame(columns, index=frame.index)


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.to_pandas()
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data)
    raise ValidationError(
        f"cannot predict on a {type(data).__name__}: pass a pandas DataFrame, a pyarrow "
        "Table or a list of row dicts"
    )


def _coerce(series: pd.Series, column: dict[str, Any]) -> tuple[pd.Series, str | None]:
    kind = column.get("kind", "numeric")
    if kind == "categorical":
        return series, None
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(series):
            return series, None
        return _checked(series, series.map(_BOOLEANS), "true/false (or 1/0)")
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series):
            return series, None
        converted = pd.to_datetime(series, errors="coerce", utc=_is_utc(column), format="mixed")
        return _checked(series, converted, "dates or times")
    if pd.api.types.is_timedelta64_dtype(series.dtype) or _holds_timedeltas(series):
        return pd.to_timedelta(series).dt.total_seconds(), None  # durations are seconds
    if pd.api.types.is_bool_dtype(series):
        return series, None
    if not pd.api.types.is_numeric_dtype(series):
        series, problem = _checked(series, pd.to_numeric(series, errors="coerce"), "numbers")
        if problem is not None:
            return series, problem
    return _finite(series)


def _holds_timedeltas(series: pd.Series) -> bool:
    if series.dtype != object:
        return False
    return str(pd.api.types.infer_dtype(series, skipna=True)).startswith("timedelta")


def _finite(series: pd.Series) -> tuple[pd.Series, str | None]:
    """Infinity is not a number a model was trained on (formats would disagree on it)."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(values)
    if not infinite.any():
        return series, None
    shown = ", ".join(repr(float(v)) for v in values[infinite][:3])
    return (
        series,
        f"expected finite numbers, got {shown} ({int(infinite.sum())} of {len(values)} rows)",
    )


# True == 1 and False == 0 as dict keys, so the numbers need no entries of their own.
_BOOLEANS = {True: True, False: False, "true": True, "false": False, "True": True,
             "False": False, "1": True, "0": False}  # fmt: skip


def _is_utc(column: dict[str, Any]) -> bool:
    return "UTC" in str(column.get("dtype", ""))


def _checked(
    original: pd.Series, converted: pd.Series, expected: str
) -> tuple[pd.Series, str | None]:
    lost = original.notna().to_numpy() & converted.isna().to_numpy()
    if not lost.any():
        return converted, None
    bad = original[lost]
    shown = ", ".join(repr(v)[:40] for v in bad.iloc[:3])
    return (
        converted,
        f"expected {expected}, got {shown} ({int(lost.sum())} of {len(original)} rows)",
    )


def _mismatch(missing: list[str], extras: list[str], conflicts: dict[str, str]) -> SignatureError:
    parts = []
    if missing:
        parts.append(f"missing column(s): {_names(missing)}")
    if extras:
        parts.append(
            f"extra column(s) the model does not know: {_names(extras)} "
            "(drop them, or pass extra='ignore')"
        )
    for name, problem in list(conflicts.items())[:_SHOW]:
        parts.append(f"column {name!r}: {problem}")
    return SignatureError(
        "input does not match the model signature: " + "; ".join(parts),
        missing=missing,
        extra=extras,
        conflicts=conflicts,
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n[:80]) for n in names[:_SHOW])
    return shown + (f" and {len(names) - _SHOW} more" if len(names) > _SHOW else "")
