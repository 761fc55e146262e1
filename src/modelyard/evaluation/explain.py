"""Model explanations on the raw input columns: permutation importance, partial dependence.

Both work on any fitted model that takes the raw frame (a pipeline with its own
preprocessing, an ensemble of pipelines), so they speak in the columns a user
knows rather than one-hot or scaled features. Both run on a seeded sample of
the holdout (2,000 rows for importance, 500 for partial dependence) so a large
holdout is explained in seconds.

Partial dependence is computed the way scikit-learn's brute method does it
(set the column to each grid value on every sampled row, average the
predictions), with all grid values predicted in one batch; unlike
:func:`sklearn.inspection.partial_dependence` it accepts categorical columns
with missing values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from modelyard.evaluation.scoring import predict
from modelyard.training import METRICS

__all__ = [
    "GRID_POINTS",
    "IMPORTANCE_REPEATS",
    "IMPORTANCE_ROWS",
    "PD_FEATURES",
    "PD_ROWS",
    "importance",
    "partial_dependence",
    "sample_rows",
]

IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 5
PD_ROWS = 500
PD_FEATURES = 3
GRID_POINTS = 20
_PERCENTILES = (0.05, 0.95)


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``n`` row indices, seeded, in ascending order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _scorer(metric: str, task: str, positive: int) -> Callable[[Any, pd.DataFrame, Any], float]:
    """A scikit-learn scorer for ``metric``: greater is better, NaN where undefined."""
    spec = METRICS[metric]

    def scorer(model: Any, X: pd.DataFrame, y: Any) -> float:
        scored = predict(model, X, np.asarray(y), task, positive)
        given = scored.proba if spec.needs_proba else scored.pred
        try:
            value = spec.compute(scored.y, given, scored.classes)  # type: ignore[arg-type]
        except ValueError:  # the sample holds one class only
            return math.nan
        return value if spec.greater_is_better else -value

    return scorer


def importance(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    metric: str,
    positive: int,
    seed: int,
) -> tuple[list[dict[str, Any]], int]:
    """Permutation importance of each raw column: the drop in ``metric`` when it is shuffled.

    Returns:
        ``([{"feature", "mean", "std"}], rows)``, most important first; ``rows`` is
        the size of the sample it ran on.
    """
    rows = sample_rows(len(X), IMPORTANCE_ROWS, seed)
    result = permutation_importance(
        model,
        X.iloc[rows],
        y[rows],
        scoring=_scorer(metric, task, positive),
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    found: list[dict[str, Any]] = [
        {"feature": str(name), "mean": float(mean), "std": float(std)}
        for name, mean, std in zip(
            X.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    found.sort(key=lambda item: -item["mean"] if math.isfinite(item["mean"]) else math.inf)
    return found, len(rows)


def _grid(column: pd.Series) -> tuple[str, np.ndarray] | None:
    """The kind and grid values of ``column``; None when it cannot be varied."""
    known = column.dropna()
    if known.empty or pd.api.types.is_datetime64_any_dtype(column):
        return None
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        distinct = np.unique(known.to_numpy(dtype=np.float64))
        if len(distinct) <= GRID_POINTS:
            return "numeric", distinct
        low, high = np.quantile(known.to_numpy(np.float64), _PERCENTILES)
        return "numeric", np.linspace(low, high, GRID_POINTS)
    top = known.value_counts().index[:GRID_POINTS]
    return "categorical", np.asarray(list(top), dtype=object)


def _average_curve(
    model: Any, sample: pd.DataFrame, name: str, grid: np.ndarray, task: str, positive: int
) -> np.ndarray:
    batch = pd.concat([sample] * len(grid), ignore_index=True)
    values = np.repeat(grid, len(sample))
    original = sample[name].dtype
    if isinstance(original, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(original):
        batch[name] = pd.Series(values, dtype=original)
    else:
        batch[name] = values
    if task == "regression":
        out = np.asarray(model.predict(batch), dtype=np.float64)
    else:
        out = np.asarray(model.predict_proba(batch), dtype=np.float64)[:, positive]
    return np.asarray(out.reshape(len(grid), len(sample)).mean(axis=1))


def partial_dependence(
    model: Any,
    X: pd.DataFrame,
    features: Sequence[str],
    *,
    task: str,
    positive: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Partial dependence of the prediction on each of the first usable ``features``.

    For classifiers the curve is the positive class's probability. At most
    :data:`PD_FEATURES` curves; datetime and all-null columns are skipped.

    Returns:
        ``[{"feature", "kind": "numeric" | "categorical", "values", "average", "rows"}]``.
    """
    sample = X.iloc[sample_rows(len(X), PD_ROWS, seed)].reset_index(drop=True)
    curves: list[dict[str, Any]] = []
    for name in features:
        found = _grid(sample[name])
        if found is None:
            continue
        kind, grid = found
        average = _average_curve(model, sample, name, grid, task, positive)
        values = grid.tolist() if kind == "numeric" else [str(v) for v in grid]
        curves.append(
            {
                "feature": name,
                "kind": kind,
                "values": values,
                "average": average.tolist(),
                "rows": len(sample),
            }
        )
        if len(curves) == PD_FEATURES:
            break
    return curves
