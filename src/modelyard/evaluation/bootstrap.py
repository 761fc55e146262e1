"""Bootstrap 95% confidence intervals for the holdout metrics.

Resampling with replacement, 200 resamples, percentile intervals. On a large
holdout each resample draws ``m = 5000`` of the ``n`` rows (the m-out-of-n
bootstrap) and the interval's distances from the point estimate are scaled by
``sqrt(m / n)``: the metrics here are asymptotically normal, so their spread
shrinks as ``1 / sqrt(rows)``. With ``n <= 5000`` this is the plain bootstrap.

The metrics of :data:`modelyard.training.METRICS` are computed for all
resamples at once from per-row quantities (confusion counts, ranks, errors),
matching scikit-learn on every single resample (the tests check that); a
metric without such a form falls back to one scikit-learn call per resample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from modelyard.evaluation.scoring import Scored, score

__all__ = ["LEVEL", "RESAMPLES", "ROWS", "bootstrap_intervals", "resampled"]

RESAMPLES = 200
ROWS = 5000
LEVEL = 0.95

Resampled = Callable[[Scored, np.ndarray], np.ndarray]


def bootstrap_intervals(
    names: Sequence[str], scored: Scored, values: dict[str, float | None], seed: int
) -> tuple[dict[str, dict[str, float | None]], dict[str, Any]]:
    """Each metric's value with its bootstrap interval, and how they were drawn.

    Args:
        names: The metrics.
        scored: Targets and predictions of the holdout.
        values: The metrics' point estimates on all rows.
        seed: Seeds the resampling.

    Returns:
        ``({name: {"value", "ci_low", "ci_high"}}, {"resamples", "rows", ...})``; an
        interval is None when the value is, or when fewer than half the resamples
        define the metric.
    """
    n = len(scored.y)
    m = min(n, ROWS)
    rows = np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, m))
    scale = math.sqrt(m / n)
    alpha = (1 - LEVEL) / 2
    out: dict[str, dict[str, float | None]] = {}
    for name in names:
        value = values[name]
        stats = resampled(name, scored, rows)
        stats = stats[np.isfinite(stats)]
        low = high = None
        if value is not None and len(stats) >= RESAMPLES / 2:
            q_low, q_high = np.quantile(stats, [alpha, 1 - alpha])
            low = value + scale * (float(q_low) - value)
            high = value + scale * (float(q_high) - value)
        out[name] = {"value": value, "ci_low": low, "ci_high": high}
    method = "percentile" if m == n else "m-out-of-n percentile, scaled by sqrt(m/n)"
    info = {"resamples": RESAMPLES, "rows": m, "level": LEVEL, "method": method}
    return out, info


def resampled(name: str, scored: Scored, rows: np.ndarray) -> np.ndarray:
    """Metric ``name`` on each resample: ``rows`` is (resamples, m) row indices.

    Returns:
        One value per resample; NaN where the metric is undefined on it.
    """
    fast = _FAST.get(name)
    if fast is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(fast(scored, rows), dtype=np.float64)
    slow = [score([name], scored.subset(r))[name] for r in rows]
    return np.array([math.nan if v is None else v for v in slow])


def _accuracy(s: Scored, rows: np.ndarray) -> np.ndarray:
    return np.asarray((s.pred == s.y)[rows].mean(axis=1))


def _log_loss(s: Scored, rows: np.ndarray) -> np.ndarray:
    assert s.proba is not None
    eps = np.finfo(np.float64).eps
    p_true = np.clip(s.proba, eps, 1 - eps)[np.arange(len(s.y)), s.y]
    return np.asarray((-np.log(p_true))[rows].mean(axis=1))


def _confusion(s: Scored, rows: np.ndarray) -> np.ndarray:
    """Counts per resample, shaped (resamples, true class, predicted class)."""
    assert s.proba is not None
    k = s.proba.shape[1]
    cell = s.y * k + s.pred
    flat = (np.arange(len(rows))[:, None] * (k * k) + cell[rows]).ravel()
    return np.bincount(flat, minlength=len(rows) * k * k).reshape(len(rows), k, k)


def _macro(kind: str) -> Resampled:
    """Macro precision / recall / F1 over the classes seen in truth or prediction."""

    def compute(s: Scored, rows: np.ndarray) -> np.ndarray:
        counts = _confusion(s, rows)
        tp = np.diagonal(counts, axis1=1, axis2=2).astype(np.float64)
        support, predicted = counts.sum(axis=2), counts.sum(axis=1)
        denominator = {"precision": predicted, "recall": support, "f1": support + predicted}
        per_class = np.where(denominator[kind] > 0, tp / denominator[kind], 0.0)
        if kind == "f1":
            per_class = 2 * per_class
        seen = (support + predicted) > 0
        return np.asarray((per_class * seen).sum(axis=1) / seen.sum(axis=1))

    return compute


def _balanced_accuracy(s: Scored, rows: np.ndarray) -> np.ndarray:
    counts = _confusion(s, rows)
    tp = np.diagonal(counts, axis1=1, axis2=2).astype(np.float64)
    support = counts.sum(axis=2)
    recall = np.where(support > 0, tp / support, 0.0)
    return np.asarray(recall.sum(axis=1) / (support > 0).sum(axis=1))


def _auc_per_resample(score_: np.ndarray, positive: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """ROC AUC on each resample (Mann-Whitney with midranks for ties); NaN with one class."""
    group = np.unique(score_, return_inverse=True)[1].reshape(-1)  # ties share a group
    g = group[rows]
    order = np.argsort(g, axis=1, kind="stable")
    g = np.take_along_axis(g, order, axis=1)
    pos = np.take_along_axis(positive[rows], order, axis=1)
    m = g.shape[1]
    index = np.broadcast_to(np.arange(m), g.shape)
    starts = np.ones(g.shape, dtype=bool)
    starts[:, 1:] = g[:, 1:] != g[:, :-1]
    ends = np.ones(g.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, index, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, index, m)[:, ::-1], axis=1)[:, ::-1]
    midrank = (first + last) / 2 + 1
    n_pos = pos.sum(axis=1).astype(np.float64)
    n_neg = m - n_pos
    auc = ((midrank * pos).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.asarray(np.where((n_pos > 0) & (n_neg > 0), auc, np.nan))


def _roc_auc(s: Scored, rows: np.ndarray) -> np.ndarray:
    assert s.proba is not None
    k = s.proba.shape[1]
    if k == 2:
        return _auc_per_resample(s.proba[:, 1], s.y == 1, rows)
    per_class = [_auc_per_resample(s.proba[:, c], s.y == c, rows) for c in range(k)]
    return np.asarray(np.mean(per_class, axis=0))  # NaN when a class is absent, as sklearn


def _rmse(s: Scored, rows: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(((s.y - s.pred) ** 2)[rows].mean(axis=1)))


def _mae(s: Scored, rows: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(s.y - s.pred)[rows].mean(axis=1))


def _r2(s: Scored, rows: np.ndarray) -> np.ndarray:
    sse = ((s.y - s.pred) ** 2)[rows].sum(axis=1)
    y = s.y[rows]
    sst = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    constant = np.where(sse == 0, 1.0, 0.0)  # scikit-learn's force_finite
    return np.asarray(np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), constant))


_FAST: dict[str, Resampled] = {
    "accuracy": _accuracy,
    "log_loss": _log_loss,
    "precision": _macro("precision"),
    "recall": _macro("recall"),
    "f1": _macro("f1"),
    "balanced_accuracy": _balanced_accuracy,
    "roc_auc": _roc_auc,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}
