"""Train/test checks: rows shared by both splits, and per-feature distribution shift.

Duplicates: a holdout row whose feature values all equal a training row's makes
the holdout score optimistic. Rows are compared by hash
(:func:`pandas.util.hash_pandas_object`), numbers as float64 so ``1`` and ``1.0``
match.

Shift: a two-sample test per feature, picked by type. Numeric and datetime
columns with more than 10 distinct values get the Kolmogorov-Smirnov test (effect:
the KS statistic); other columns a chi-squared test on the category counts
(top 20, the rest pooled, missing as its own category; effect: Cramér's V). A
feature drifted when ``p < 0.01`` and the effect is at least 0.1: on large
samples the p-value alone flags shifts too small to matter.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from modelyard.evaluation.groups import MAX_VALUES, datetime_ns

__all__ = ["DRIFT_EFFECT", "DRIFT_P", "duplicates", "shift"]

DRIFT_P = 0.01
DRIFT_EFFECT = 0.1
_FEW_DISTINCT = 10
_MISSING = "(missing)"
_OTHER = "(other)"


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    normal = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            normal[name] = column.astype(np.float64)
        elif isinstance(column.dtype, pd.CategoricalDtype):
            normal[name] = column.astype(object)
        else:
            normal[name] = column
    return np.asarray(pd.util.hash_pandas_object(pd.DataFrame(normal), index=False))


def duplicates(X_test: pd.DataFrame, X_train: pd.DataFrame) -> dict[str, Any]:
    """How many holdout rows also appear (all feature columns equal) in the training rows.

    Args:
        X_test: Holdout features.
        X_train: Training features holding at least the columns of ``X_test``.

    Returns:
        ``{"shared_rows", "test_rows", "fraction"}``.
    """
    columns = list(X_test.columns)
    test = _row_hashes(X_test[columns])
    shared = int(np.isin(test, _row_hashes(X_train[columns])).sum())
    n = len(X_test)
    return {"shared_rows": shared, "test_rows": n, "fraction": shared / n if n else 0.0}


def _numbers(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(column):
        values = datetime_ns(column)
        return np.asarray(values[~np.isnan(values)])
    return np.asarray(column.dropna().to_numpy(dtype=np.float64))


def _continuous(train: pd.Series, test: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(train) and not pd.api.types.is_bool_dtype(train)
    if not (numeric or pd.api.types.is_datetime64_any_dtype(train)):
        return False
    return bool(pd.concat([train, test], ignore_index=True).nunique() > _FEW_DISTINCT)


def _categories(train: pd.Series, test: pd.Series) -> np.ndarray:
    """A 2 x categories table of counts (train row, test row)."""

    def names(column: pd.Series) -> pd.Series:
        return column.astype(object).where(column.notna(), _MISSING).astype(str)

    a, b = names(train), names(test)
    top = pd.concat([a, b]).value_counts().index[: MAX_VALUES - 1]
    a, b = a.where(a.isin(top), _OTHER), b.where(b.isin(top), _OTHER)
    table = pd.DataFrame({"train": a.value_counts(), "test": b.value_counts()}).fillna(0)
    return np.asarray(table.to_numpy(dtype=np.float64).T)


def _test_one(train: pd.Series, test: pd.Series) -> tuple[str, float, float, float] | None:
    """(test, statistic, p_value, effect); None when either side has no values."""
    if _continuous(train, test):
        a, b = _numbers(train), _numbers(test)
        if len(a) == 0 or len(b) == 0:
            return None
        result = ks_2samp(a, b)
        statistic = float(result.statistic)
        return "ks", statistic, float(result.pvalue), statistic
    table = _categories(train, test)
    if table.shape[1] < 2:  # a single category on both sides: nothing can differ
        return "chi2", 0.0, 1.0, 0.0
    chi2, p_value, _, _ = chi2_contingency(table, correction=False)
    cramers_v = float(np.sqrt(chi2 / table.sum()))  # min(2, categories) - 1 == 1
    return "chi2", float(chi2), float(p_value), cramers_v


def shift(X_train: pd.DataFrame, X_test: pd.DataFrame) -> list[dict[str, Any]]:
    """A two-sample test per feature of ``X_test``, largest effect first.

    Returns:
        ``[{"feature", "test": "ks" | "chi2", "statistic", "p_value", "effect",
        "drifted"}]``; columns empty on either side are left out.
    """
    found: list[dict[str, Any]] = []
    for name in X_test.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's notes on exact vs asymptotic p-values
            outcome = _test_one(X_train[name], X_test[name])
        if outcome is None:
            continue
        test, statistic, p_value, effect = outcome
        drifted = p_value < DRIFT_P and effect >= DRIFT_EFFECT
        found.append(
            {
                "feature": str(name),
                "test": test,
                "statistic": statistic,
                "p_value": p_value,
                "effect": effect,
                "drifted": drifted,
            }
        )
    found.sort(key=lambda item: -item["effect"])
    return found
