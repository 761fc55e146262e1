"""Target leakage: a feature that alone predicts the target almost perfectly.

Each feature gets its own small model, scored by 3-fold cross-validation on (a
seeded sample of at most 5,000) training rows: a depth-5 decision tree for a
numeric, boolean or datetime column, a regularised linear model on the one-hot
categories (a smoothed lookup table) for any other column. A feature is flagged
when that model reaches ROC AUC >= 0.98 (classification) or R2 >= 0.95
(regression): real features rarely do, copies and proxies of the target do.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from modelyard.evaluation.explain import sample_rows
from modelyard.evaluation.groups import datetime_ns

__all__ = ["AUC_FLAG", "LEAK_ROWS", "R2_FLAG", "leakage"]

AUC_FLAG = 0.98
R2_FLAG = 0.95
LEAK_ROWS = 5000
_FOLDS = 3
_DEPTH = 5
_MAX_CATEGORIES = 200
_MISSING = "(missing)"


def _as_input(column: pd.Series) -> tuple[pd.DataFrame, bool] | None:
    """The column as a one-column model input, and whether it is categorical."""
    if column.isna().all():
        return None
    if pd.api.types.is_datetime64_any_dtype(column):
        return pd.DataFrame({"x": datetime_ns(column)}), False
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return pd.DataFrame({"x": column.to_numpy(dtype=np.float64, na_value=np.nan)}), False
    text = column.astype(object).where(column.notna(), _MISSING).astype(str)
    return pd.DataFrame({"x": text.to_numpy(dtype=object)}), True


def _model(task: str, categorical: bool, seed: int) -> Any:
    if not categorical:
        if task == "regression":
            return DecisionTreeRegressor(max_depth=_DEPTH, random_state=seed)
        return DecisionTreeClassifier(max_depth=_DEPTH, random_state=seed)
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=_MAX_CATEGORIES)
    if task == "regression":
        return make_pipeline(encoder, Ridge(alpha=1.0))
    return make_pipeline(encoder, LogisticRegression(max_iter=500))


def _score(task: str, y: np.ndarray, predicted: np.ndarray) -> float | None:
    try:
        if task == "regression":
            return float(r2_score(y, predicted))
        if predicted.shape[1] == 2:
            return float(roc_auc_score(y, predicted[:, 1]))
        return float(roc_auc_score(y, predicted, multi_class="ovr", average="macro"))
    except ValueError:  # a score the folds leave undefined
        return None


def _folds(task: str, y: np.ndarray, seed: int) -> Any:
    """Stratified folds when every class has a row in each; plain folds otherwise."""
    if task != "regression" and np.bincount(y).min() >= _FOLDS:  # y: codes 0..j-1, all seen
        return StratifiedKFold(_FOLDS, shuffle=True, random_state=seed)
    return KFold(_FOLDS, shuffle=True, random_state=seed)


def leakage(X: pd.DataFrame, y: np.ndarray, *, task: str, seed: int) -> list[dict[str, Any]]:
    """Each feature's single-feature cross-validated score, highest first.

    Args:
        X: Training features (raw columns).
        y: Training target (class codes, or floats for a regression).
        task: ``binary``, ``multiclass`` or ``regression``.
        seed: Seeds the row sample and the folds.

    Returns:
        ``[{"feature", "score", "metric", "flagged"}]``; an all-null column scores None.
        Empty when the sample holds fewer than 2 classes or too few rows to fold.
    """
    rows = sample_rows(len(X), LEAK_ROWS, seed)
    X, y = X.iloc[rows].reset_index(drop=True), y[rows]
    metric, flag = ("r2", R2_FLAG) if task == "regression" else ("roc_auc", AUC_FLAG)
    if len(y) < 2 * _FOLDS or (task != "regression" and len(np.unique(y)) < 2):
        return []
    if task != "regression":
        y = np.unique(y, return_inverse=True)[1].reshape(-1)  # codes present, 0..j-1
    method = "predict" if task == "regression" else "predict_proba"
    found: list[dict[str, Any]] = []
    for name in X.columns:
        given = _as_input(X[name])
        score = None
        if given is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence / small-class notices
                predicted = cross_val_predict(
                    _model(task, given[1], seed),
                    given[0],
                    y,
                    cv=_folds(task, y, seed),
                    method=method,
                )
                score = _score(task, y, np.asarray(predicted))
        flagged = score is not None and score >= flag
        found.append({"feature": str(name), "score": score, "metric": metric, "flagged": flagged})
    found.sort(key=lambda item: -item["score"] if item["score"] is not None else np.inf)
    return found
