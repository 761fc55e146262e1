"""The data, spec and training rows shared by every side of ``benchmarks/training.py``.

Both sides start from the same seeded frame and the same spec, and both take their
training rows from :func:`modelyard.training.prepare.prepare` (the 20% holdout split
``train()`` makes), so the plain loop fits exactly the rows ours fits.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TARGET = "churned"
PII_COLUMNS = ("name", "email", "phone", "customer_id")
FOLDS = 5
SEED = 0
METRIC = "roc_auc"


def churn_frame(rows: int) -> pd.DataFrame:
    """``make_churn(rows, seed=0)`` without the PII columns (they are not features)."""
    from modelyard.data import make_churn

    return make_churn(rows, seed=SEED).drop(columns=list(PII_COLUMNS))


def bench_spec(family: str, trials: int, n_jobs: int) -> dict[str, Any]:
    """The spec ours runs: one family, 5-fold CV, ``trials`` trials, no ensembles.

    Pruning is off: with it ours would stop weak trials after a fold or two and so do
    less work than the plain loop, and the two samplers would no longer see the same
    history. With it off both sides fit ``trials`` x 5 folds + 1 refit.
    """
    return {
        "families": [family],
        "metric": METRIC,
        "cv": {"folds": FOLDS},
        "tuning": {"trials": trials, "n_jobs": n_jobs, "pruning": False},
        "ensembles": {"average": False, "stacking": False},
        "seed": SEED,
    }
