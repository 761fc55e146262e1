"""Predictions on the holdout and the metric suite computed from them.

The metrics are :data:`modelyard.training.METRICS`, so a holdout score here is
the very number training reported. Classifiers are asked once for
probabilities; the predicted code is the most probable class, as in training.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.exceptions import ValidationError
from modelyard.training import METRICS, metric_names

__all__ = ["Scored", "predict", "resolve_metrics", "score"]


@dataclass(frozen=True)
class Scored:
    """Targets and predictions of one set of rows.

    ``y`` and ``pred`` hold class codes ``0..k-1`` for classification (``proba``
    has one column per code) and floats for regression (``proba`` is None).
    """

    task: str
    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None
    positive: int = 1

    @property
    def classes(self) -> np.ndarray | None:
        """The class codes ``0..k-1``; None for regression."""
        return None if self.proba is None else np.arange(self.proba.shape[1])

    def subset(self, rows: np.ndarray) -> Scored:
        """The same predictions restricted to ``rows`` (a mask or indices)."""
        proba = None if self.proba is None else self.proba[rows]
        return Scored(self.task, self.y[rows], self.pred[rows], proba, self.positive)

    @property
    def positive_score(self) -> np.ndarray:
        """The positive class's probability (classification only)."""
        if self.proba is None:
            raise ValidationError("a regression has no class probabilities")
        return np.asarray(self.proba[:, self.positive], dtype=np.float64)


def predict(model: Any, X: pd.DataFrame, y: np.ndarray, task: str, positive: int = 1) -> Scored:
    """Ask ``model`` for its predictions on ``X``.

    Raises:
        ValidationError: A classifier without ``predict_proba``, or probabilities whose
            columns do not match the classes.
    """
    if task == "regression":
        pred = np.asarray(model.predict(X), dtype=np.float64).reshape(len(X))
        return Scored(task, y.astype(np.float64), pred, None, positive)
    if not hasattr(model, "predict_proba"):
        raise ValidationError(
            f"a {task} evaluation needs class probabilities, and {type(model).__name__} "
            "has no predict_proba; pass a classifier trained by modelyard"
        )
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != len(X):
        raise ValidationError(f"predict_proba returned shape {proba.shape} for {len(X)} rows")
    return Scored(task, y.astype(np.int64), proba.argmax(axis=1), proba, positive)


def resolve_metrics(task: str, names: Sequence[str] | None) -> list[str]:
    """The metric names to report: ``names`` checked, or the task's whole suite.

    Raises:
        ValidationError: An unknown name or one that does not fit the task (lists the valid).
    """
    valid = metric_names(task)
    if names is None:
        return valid
    if isinstance(names, str):
        names = [names]
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValidationError(
            f"unknown metric(s) {', '.join(map(repr, unknown))} for a {task} task; "
            f"valid: {', '.join(valid)}",
            metrics=unknown,
        )
    if not names:
        raise ValidationError(f"metrics is empty; name at least one of {', '.join(valid)}")
    return list(dict.fromkeys(names))


def score(names: Sequence[str], scored: Scored) -> dict[str, float | None]:
    """Each metric of ``names`` on ``scored`` (None where undefined, e.g. one class).

    Warnings about undefined cases are silenced: the None says the same.
    """
    values: dict[str, float | None] = {}
    for name in names:
        metric = METRICS[name]
        given = scored.proba if metric.needs_proba else scored.pred
        value = math.nan
        if given is not None and len(scored.y) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = metric.compute(scored.y, given, scored.classes)
                except ValueError:  # one class on the rows: the metric is undefined
                    value = math.nan
        values[name] = value if math.isfinite(value) else None
    return values
