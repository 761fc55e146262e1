"""Regression diagnostics: a summary of the residuals (actual minus predicted)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.evaluation.scoring import Scored

__all__ = ["HISTOGRAM_BINS", "SAMPLE_POINTS", "residuals"]

HISTOGRAM_BINS = 20
SAMPLE_POINTS = 500


def residuals(scored: Scored, seed: int) -> dict[str, Any]:
    """Summary statistics, a histogram and a sample of (actual, predicted) points.

    Args:
        scored: Regression targets and predictions.
        seed: Seeds the choice of the at most 500 sampled points.

    Returns:
        ``{"mean", "std", "mae", "p5", "p50", "p95", "max_abs", "histogram": {"edges",
        "counts"}, "sample": {"actual", "predicted"}}``.
    """
    error = scored.y - scored.pred
    p5, p50, p95 = np.percentile(error, [5, 50, 95])
    counts, edges = np.histogram(error, bins=HISTOGRAM_BINS)
    n = len(error)
    rng = np.random.default_rng(seed)
    picked = np.arange(n)
    if n > SAMPLE_POINTS:
        picked = np.sort(rng.choice(n, size=SAMPLE_POINTS, replace=False))
    return {
        "mean": float(error.mean()),
        "std": float(error.std()),
        "mae": float(np.abs(error).mean()),
        "p5": float(p5),
        "p50": float(p50),
        "p95": float(p95),
        "max_abs": float(np.abs(error).max()),
        "histogram": {"edges": edges.tolist(), "counts": counts.astype(int).tolist()},
        "sample": {
            "actual": scored.y[picked].tolist(),
            "predicted": scored.pred[picked].tolist(),
        },
    }
