"""The quality bar of ``benchmarks/training.py``: ``train()`` with the DEFAULT spec.

No spec at all (the task's default families, 20 trials, 5-fold CV, averaging of
the top three) on two datasets bundled with scikit-learn, each on a fresh home:

* ``breast_cancer`` (569 rows, binary): the chosen model's 5-fold CV ``roc_auc``
  must be >= 0.98;
* ``diabetes`` (442 rows, regression): the chosen model's 5-fold CV ``r2`` must be
  >= 0.45.

The score is the leaderboard row of the chosen candidate (the one ``train`` picked
and refitted), so it is what a user would see, not the best of all trials.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

QUALITY_TARGETS = {"breast_cancer": ("roc_auc", 0.98), "diabetes": ("r2", 0.45)}


def _frame(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}
    frame: pd.DataFrame = loader[name](as_frame=True).frame
    return frame


def run_quality(home: Path) -> dict[str, Any]:
    """Train with the default spec on each dataset; the chosen row's score vs its target."""
    from modelyard.config import load_settings
    from modelyard.tracking import TrackingClient
    from modelyard.training import train

    results: dict[str, Any] = {}
    for name, (metric, target) in QUALITY_TARGETS.items():
        folder = home / name
        folder.mkdir()
        settings = load_settings(home=folder, env={}, cwd=folder)
        tracking = TrackingClient.from_settings(settings)
        try:
            started = time.perf_counter()
            result = train(_frame(name), "target", tracking=tracking, settings=settings)
            seconds = time.perf_counter() - started
        finally:
            tracking.close()
        chosen = next(row for row in result.leaderboard if row["chosen"])
        score = float(chosen[metric])
        results[name] = {
            "metric": metric,
            "score": round(score, 4),
            "target": target,
            "met": score >= target,
            "chosen": chosen["candidate"],
            "candidates": len(result.leaderboard),
            "seconds": round(seconds, 1),
        }
    return results
