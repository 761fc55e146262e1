"""The input signature of a trained model: what a request must look like.

Columns in order with their types, and what training saw of each: the levels of
categorical columns and the range of numeric and datetime ones. Serving validates
requests against it, the ONNX converter types the graph inputs by it, and monitoring
compares production data with it.

Each column's ``kind`` is the one the preprocessing gives it
(:func:`modelyard.features.column_kind`), so the signature and the fitted pipeline
never disagree: an ``object`` column of Python bools is ``boolean``, one of dates or
datetimes is ``datetime``, one of numbers is ``numeric``, and a timedelta column is
``numeric``. The fields per kind:

- ``numeric``: ``min``/``max`` of the values as the pipeline reads them
  (:class:`modelyard.features.AsFloat`); timedeltas are in seconds and also carry
  ``"unit": "seconds"``.
- ``datetime``: ``min``/``max`` as text; ``datetime64`` columns as pandas prints
  them, ``object`` columns converted to naive UTC first, as
  :class:`modelyard.features.DatetimeFeatures` does.
- ``categorical``: the sorted text ``levels``, or ``levels_truncated`` past
  :data:`MAX_LEVELS`.
- ``boolean``: no range.

Every column also has ``name``, ``dtype`` (the pandas dtype), ``nullable`` and ``used``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from modelyard.exceptions import ValidationError
from modelyard.features import AsFloat, column_kind

__all__ = ["MAX_LEVELS", "signature_of"]

MAX_LEVELS = 1000


def signature_of(
    X: pd.DataFrame,
    *,
    target: str,
    task: str,
    labels: list[object] | None,
    excluded: list[str],
) -> dict[str, Any]:
    """A JSON-able signature of the training features ``X``.

    Args:
        X: The training features, columns in the order requests must follow.
        target: The target column's name.
        task: ``binary``, ``multiclass`` or ``regression``.
        labels: The class labels in code order (None for regression).
        excluded: Columns the model does not read (``used`` is false for them).

    Returns:
        ``{"inputs": [column, ...], "output": {"name", "task", "classes"?}}``; the
        fields of each column are listed in the module docstring.

    Example:
        >>> frame = pd.DataFrame({"age": [30, 41], "city": ["Oslo", "Rome"]})
        >>> sig = signature_of(frame, target="y", task="regression", labels=None, excluded=[])
        >>> [(c["name"], c["kind"]) for c in sig["inputs"]]
        [('age', 'numeric'), ('city', 'categorical')]
    """
    columns = [_column_entry(str(name), X.iloc[:, i], excluded) for i, name in enumerate(X.columns)]
    output: dict[str, Any] = {"name": target, "task": task}
    if labels is not None:
        output["classes"] = [_plain(v) for v in labels]
    return {"inputs": columns, "output": output}


def _column_entry(name: str, series: pd.Series, excluded: list[str]) -> dict[str, Any]:
    kind = column_kind(series)
    entry: dict[str, Any] = {
        "name": name,
        "dtype": str(series.dtype),
        "nullable": bool(series.isna().any()),
        "used": name not in excluded,
        "kind": kind,
    }
    if not entry["used"]:
        # Masked PII and identifiers: the model never reads them, and their values
        # (even pseudonymised) have no business in the registry.
        return entry
    present = series.dropna()
    if kind == "numeric":
        entry.update(_numeric_range(present))
    elif kind == "datetime":
        entry.update(_datetime_range(present))
    elif kind == "categorical":
        levels = present.astype(str).unique()
        if len(levels) <= MAX_LEVELS:
            entry["levels"] = sorted(levels.tolist())
        else:
            entry["levels_truncated"] = True
    return entry


def _numeric_range(present: pd.Series) -> dict[str, Any]:
    """``min``/``max`` as the pipeline's :class:`AsFloat` reads the values (timedeltas in s)."""
    timedelta = ptypes.is_timedelta64_dtype(present.dtype) or (
        present.dtype == object and ptypes.infer_dtype(present).startswith("timedelta")
    )
    unit = {"unit": "seconds"} if timedelta else {}
    try:
        values = AsFloat().fit_transform(present.to_frame()).iloc[:, 0].to_numpy()
    except ValidationError:  # not numbers after all: the pipeline would refuse them too
        return unit
    values = values[~np.isnan(values)]
    if not len(values):
        return unit
    return {"min": float(values.min()), "max": float(values.max()), **unit}


def _datetime_range(present: pd.Series) -> dict[str, str]:
    """``min``/``max`` as text; ``object`` values (dates, aware datetimes) as naive UTC."""
    if not len(present):
        return {}
    if ptypes.is_datetime64_any_dtype(present.dtype):
        return {"min": str(present.min()), "max": str(present.max())}
    try:  # as DatetimeFeatures reads them; date and datetime objects do not compare
        stamps = pd.to_datetime(present, utc=True, format="ISO8601").dt.tz_localize(None)
    except (TypeError, ValueError, OverflowError):  # out of range: no range to record
        return {}
    return {"min": str(stamps.min()), "max": str(stamps.max())}


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
