"""The input signature of a trained model: what a request must look like.

Columns in order with their types, and what training saw of each: the levels of
categorical columns and the range of numeric ones. Serving validates requests
against it and monitoring compares production data with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    """A JSON-able signature of the training features ``X``."""
    columns = []
    for name in X.columns:
        series = X[name]
        entry: dict[str, Any] = {
            "name": str(name),
            "dtype": str(series.dtype),
            "nullable": bool(series.isna().any()),
            "used": str(name) not in excluded,
        }
        if pd.api.types.is_bool_dtype(series):
            entry["kind"] = "boolean"
        elif pd.api.types.is_numeric_dtype(series):
            values = series.dropna().to_numpy(dtype=np.float64)
            entry["kind"] = "numeric"
            if len(values):
                entry["min"], entry["max"] = float(values.min()), float(values.max())
        elif pd.api.types.is_datetime64_any_dtype(series):
            entry["kind"] = "datetime"
            if series.notna().any():
                entry["min"], entry["max"] = str(series.min()), str(series.max())
        else:
            levels = series.dropna().astype(str).unique()
            entry["kind"] = "categorical"
            if len(levels) <= MAX_LEVELS:
                entry["levels"] = sorted(levels.tolist())
            else:
                entry["levels_truncated"] = True
        columns.append(entry)
    output: dict[str, Any] = {"name": target, "task": task}
    if labels is not None:
        output["classes"] = [_plain(v) for v in labels]
    return {"inputs": columns, "output": output}


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
