"""Metrics per task, their direction, and how each is computed from predictions.

Classification metrics that need scores (roc_auc, log_loss) take predicted
probabilities; the others take hard labels. Every metric says whether greater
is better, so selection and Optuna optimise in the right direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from modelyard.exceptions import ValidationError

__all__ = [
    "METRICS",
    "Metric",
    "default_metric",
    "get_metric",
    "metric_names",
    "reported_metrics",
    "score_all",
]


@dataclass(frozen=True)
class Metric:
    """One metric: its name, the tasks it applies to, its direction and what it needs."""

    name: str
    tasks: frozenset[str]
    greater_is_better: bool
    needs_proba: bool
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` beats score ``b`` (NaN never beats anything)."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a > b if self.greater_is_better else a < b


def _proba_binary(y: np.ndarray, proba: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    return proba[:, 1] if proba.ndim == 2 else proba


def _roc_auc(y: np.ndarray, proba: np.ndarray, labels: np.ndarray | None) -> float:
    if proba.ndim == 2 and proba.shape[1] > 2:
        return float(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels))
    return float(skm.roc_auc_score(y, _proba_binary(y, proba, labels)))


def _log_loss(y: np.ndarray, proba: np.ndarray, labels: np.ndarray | None) -> float:
    return float(skm.log_loss(y, proba, labels=labels))


def _labels_metric(fn: Callable[..., float], **kwargs: Any) -> Callable[..., float]:
    def compute(y: np.ndarray, pred: np.ndarray, labels: np.ndarray | None) -> float:
        return float(fn(y, pred, **kwargs))

    return compute


_CLS = frozenset({"binary", "multiclass"})
_REG = frozenset({"regression"})
_AVG = {"average": "macro", "zero_division": 0}

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", _CLS, True, True, _roc_auc),
        Metric("log_loss", _CLS, False, True, _log_loss),
        Metric("accuracy", _CLS, True, False, _labels_metric(skm.accuracy_score)),
        Metric("balanced_accuracy", _CLS, True, False, _labels_metric(skm.balanced_accuracy_score)),
        Metric("f1", _CLS, True, False, _labels_metric(skm.f1_score, **_AVG)),
        Metric("precision", _CLS, True, False, _labels_metric(skm.precision_score, **_AVG)),
        Metric("recall", _CLS, True, False, _labels_metric(skm.recall_score, **_AVG)),
        Metric("rmse", _REG, False, False, _labels_metric(skm.root_mean_squared_error)),
        Metric("mae", _REG, False, False, _labels_metric(skm.mean_absolute_error)),
        Metric("r2", _REG, True, False, _labels_metric(skm.r2_score)),
    )
}
_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
_REPORTED = {
    "binary": ("roc_auc", "log_loss", "accuracy", "f1", "precision", "recall"),
    "multiclass": ("log_loss", "roc_auc", "accuracy", "balanced_accuracy", "f1"),
    "regression": ("rmse", "mae", "r2"),
}


def metric_names(task: str) -> list[str]:
    """Every metric that applies to ``task``."""
    return [name for name, m in METRICS.items() if task in m.tasks]


def get_metric(name: str, task: str) -> Metric:
    """The metric ``name``, checked against ``task``.

    Raises:
        ValidationError: Unknown, or not for this task (the message lists the valid ones).
    """
    metric = METRICS.get(name)
    if metric is None or task not in metric.tasks:
        raise ValidationError(
            f"unknown metric {name!r} for a {task} task; valid: {', '.join(metric_names(task))}",
            metric=name,
        )
    return metric


def default_metric(task: str) -> str:
    """The primary metric when the spec names none."""
    return _DEFAULTS[task]


def reported_metrics(task: str, primary: str, extra: Sequence[str] = ()) -> list[str]:
    """The primary metric first, then the task's usual ones and any extras, once each."""
    names = [primary, *_REPORTED[task], *extra]
    return list(dict.fromkeys(names))


def score_all(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    labels: np.ndarray | None,
) -> dict[str, float]:
    """Every metric in ``names`` on one set of predictions (NaN where undefined)."""
    scores: dict[str, float] = {}
    shared = {"precision", "recall", "f1"} & set(names)
    if shared and pred is not None and task != "regression":  # one pass for all three
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, pred, average="macro", zero_division=0
        )
        computed = {"precision": precision, "recall": recall, "f1": f1}
        scores.update({k: float(computed[k]) for k in shared})
    for name in names:
        if name in scores:
            continue
        metric = get_metric(name, task)
        values = proba if metric.needs_proba else pred
        if values is None:
            scores[name] = math.nan
            continue
        try:
            scores[name] = metric.compute(y_true, values, labels)
        except ValueError:  # e.g. one class in a fold: the metric is undefined there
            scores[name] = math.nan
    return {name: scores[name] for name in names}  # in the order asked for
