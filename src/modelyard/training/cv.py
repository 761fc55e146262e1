"""Cross-validation: fold indices, and scoring one pipeline on every fold.

Every candidate of a job is scored on the same folds, so their scores compare
fairly (ensembles included). Per fold it measures the metrics, fit time,
predict time, and on the first fold the model's size and single-row latency.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

from modelyard.training.metrics import get_metric, score_all
from modelyard.training.spec import CVSpec

__all__ = ["CVResult", "Fold", "cross_validate", "make_folds", "predict_scores"]

Fold = tuple[np.ndarray, np.ndarray]
_LATENCY_CALLS = 2


def make_folds(spec: CVSpec, task: str, y: np.ndarray, seed: int) -> list[Fold]:
    """The (train, validation) index pairs of the job; rows must be in time order for
    ``timeseries``."""
    kind = spec.kind
    if kind == "auto":
        kind = "stratified" if task != "regression" else "kfold"
    index = np.arange(len(y))
    if kind == "timeseries":
        splitter: Any = TimeSeriesSplit(n_splits=spec.folds)
    elif kind == "stratified":
        splitter = StratifiedKFold(n_splits=spec.folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=spec.folds, shuffle=True, random_state=seed)
    return [(train, valid) for train, valid in splitter.split(index, y)]


@dataclass
class CVResult:
    """Scores of one pipeline over the folds."""

    fold_scores: list[dict[str, float]] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)
    predict_seconds: list[float] = field(default_factory=list)
    size_bytes: int | None = None
    latency_ms: float | None = None

    def mean(self, metric: str) -> float:
        """The metric's mean over folds (NaN folds ignored; NaN if all are)."""
        values = [s[metric] for s in self.fold_scores if not math.isnan(s[metric])]
        return float(np.mean(values)) if values else math.nan

    def std(self, metric: str) -> float:
        """The metric's standard deviation over folds."""
        values = [s[metric] for s in self.fold_scores if not math.isnan(s[metric])]
        return float(np.std(values)) if values else math.nan

    def summary(self, metrics: Sequence[str]) -> dict[str, float]:
        """``cv_<metric>`` and ``cv_<metric>_std`` for each metric, plus timings and size."""
        doc: dict[str, float] = {}
        for name in metrics:
            doc[f"cv_{name}"] = self.mean(name)
            doc[f"cv_{name}_std"] = self.std(name)
        doc["fit_seconds"] = float(np.mean(self.fit_seconds)) if self.fit_seconds else math.nan
        rows = self.predict_seconds
        doc["predict_seconds"] = float(np.mean(rows)) if rows else math.nan
        if self.size_bytes is not None:
            doc["model_size_mb"] = self.size_bytes / 1e6
        if self.latency_ms is not None:
            doc["latency_ms"] = self.latency_ms
        return doc


def predict_scores(model: Any, X: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Hard predictions and, for classifiers, class probabilities.

    Classifiers are asked once (``predict_proba``) and the label is the most
    probable class, which is what their ``predict`` returns: one pass through the
    preprocessing instead of two.
    """
    if task == "regression":
        return np.asarray(model.predict(X)), None
    proba = np.asarray(model.predict_proba(X))
    return np.asarray(model.classes_)[proba.argmax(axis=1)], proba


def cross_validate(
    template: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[Fold],
    *,
    task: str,
    metrics: Sequence[str],
    labels: np.ndarray | None = None,
    on_fold: Callable[[int, float], None] | None = None,
) -> CVResult:
    """Fit a clone of ``template`` per fold and score it on the held-out rows.

    Args:
        template: An unfitted scikit-learn estimator (the whole pipeline).
        on_fold: Called after each fold with its index and the running mean of the
            primary metric (``metrics[0]``); it may raise to stop (Optuna pruning).
    """
    result = CVResult()
    primary = get_metric(metrics[0], task)
    for i, (train, valid) in enumerate(folds):
        model = clone(template)
        started = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        result.fit_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        pred, proba = predict_scores(model, X.iloc[valid], task)
        result.predict_seconds.append(time.perf_counter() - started)
        result.fold_scores.append(score_all(metrics, task, y[valid], pred, proba, labels))
        if i == 0:
            result.size_bytes = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
            result.latency_ms = single_row_latency_ms(model, X.iloc[valid[:1]], task)
        if on_fold is not None:
            on_fold(i, result.mean(primary.name))
    return result


def single_row_latency_ms(model: Any, row: pd.DataFrame, task: str) -> float:
    """Median milliseconds to predict one row (what an online request costs)."""
    predict = model.predict if task == "regression" else model.predict_proba
    times = []
    for _ in range(_LATENCY_CALLS):
        started = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)
