"""Classification diagnostics: confusion matrix, ROC and PR curves, calibration.

Curves are for the positive class (``positive``, a class code) of a binary
task; a multiclass ROC is one-vs-rest per class. Curves are thinned to at most
200 points, which is plenty to draw them; areas are computed on all points.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from modelyard.evaluation.scoring import Scored

__all__ = ["CALIBRATION_BINS", "CURVE_POINTS", "calibration", "confusion", "pr", "roc"]

CURVE_POINTS = 200
CALIBRATION_BINS = 10


def _thin(*curves: np.ndarray) -> list[list[float]]:
    """Every curve at the same at most CURVE_POINTS indices (ends kept)."""
    n = len(curves[0])
    keep = np.arange(n)
    if n > CURVE_POINTS:
        keep = np.unique(np.linspace(0, n - 1, CURVE_POINTS).round().astype(np.int64))
    return [np.asarray(c, dtype=np.float64)[keep].tolist() for c in curves]


def confusion(scored: Scored, labels: Sequence[str]) -> dict[str, Any]:
    """Counts of (true class, predicted class), rows true, columns predicted."""
    codes = np.arange(len(labels))
    matrix = skm.confusion_matrix(scored.y, scored.pred, labels=codes)
    return {"labels": list(labels), "matrix": matrix.astype(int).tolist()}


def _roc_one(truth: np.ndarray, score: np.ndarray) -> dict[str, Any] | None:
    if truth.all() or not truth.any():  # one class only: no curve is defined
        return None
    fpr, tpr, _ = skm.roc_curve(truth, score)
    fpr_list, tpr_list = _thin(fpr, tpr)
    return {"fpr": fpr_list, "tpr": tpr_list, "auc": float(skm.roc_auc_score(truth, score))}


def roc(scored: Scored, labels: Sequence[str]) -> dict[str, Any] | None:
    """ROC curve data: the positive class (binary) or one-vs-rest per class (multiclass).

    Returns:
        Binary: ``{"fpr", "tpr", "auc"}``. Multiclass: ``{"per_class": {label: {...}},
        "auc": macro mean}`` over the classes present. None when no curve is defined.
    """
    assert scored.proba is not None
    if scored.task == "binary":
        return _roc_one(scored.y == scored.positive, scored.positive_score)
    per_class = {}
    for code, label in enumerate(labels):
        curve = _roc_one(scored.y == code, scored.proba[:, code])
        if curve is not None:
            per_class[label] = curve
    if not per_class:
        return None
    macro = float(np.mean([curve["auc"] for curve in per_class.values()]))
    return {"per_class": per_class, "auc": macro}


def pr(scored: Scored) -> dict[str, Any] | None:
    """Precision-recall curve of the positive class (binary only; None otherwise)."""
    truth = scored.y == scored.positive
    if scored.task != "binary" or not truth.any():
        return None
    precision, recall, _ = skm.precision_recall_curve(truth, scored.positive_score)
    precision_list, recall_list = _thin(precision, recall)
    average = float(skm.average_precision_score(truth, scored.positive_score))
    return {"precision": precision_list, "recall": recall_list, "average_precision": average}


def calibration(scored: Scored) -> dict[str, Any] | None:
    """Reliability curve (10 equal-width bins, empty ones left out) and Brier score.

    Binary only; None otherwise. ``count`` is the number of rows in each kept bin.
    """
    truth = scored.y == scored.positive
    if scored.task != "binary" or truth.all() or not truth.any():
        return None
    score = scored.positive_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # probabilities at exactly 0/1 edges are fine here
        prob_true, prob_pred = calibration_curve(truth, score, n_bins=CALIBRATION_BINS)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=CALIBRATION_BINS)
    return {
        "prob_pred": prob_pred.tolist(),
        "prob_true": prob_true.tolist(),
        "count": counts[counts > 0].astype(int).tolist(),
        "brier": float(skm.brier_score_loss(truth, score)),
    }
