"""AIC and BIC for linear models: likelihood-based model comparison on the training rows.

For logistic regression the log-likelihood comes from the predicted class
probabilities; for linear regression from the residual sum of squares under a
Gaussian error model. ``k`` counts the fitted coefficients and intercepts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["information_criteria"]

_EPS = 1e-15


def information_criteria(
    pipeline: Any, X: pd.DataFrame, y: np.ndarray, task: str
) -> dict[str, float]:
    """``{"aic": ..., "bic": ...}`` of a fitted pipeline whose last step is linear."""
    model = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    coef = np.asarray(getattr(model, "coef_", np.zeros(0)))
    intercept = np.atleast_1d(np.asarray(getattr(model, "intercept_", 0.0)))
    k = int(coef.size + np.count_nonzero(intercept))
    n = len(y)
    if task == "regression":
        residual = y - np.asarray(pipeline.predict(X), dtype=np.float64)
        rss = float(np.dot(residual, residual))
        log_likelihood = -n / 2 * (math.log(2 * math.pi * max(rss, _EPS) / n) + 1)
    else:
        proba = np.asarray(pipeline.predict_proba(X))
        picked = np.clip(proba[np.arange(n), y.astype(np.int64)], _EPS, 1.0)
        log_likelihood = float(np.log(picked).sum())
    return {
        "aic": 2 * k - 2 * log_likelihood,
        "bic": k * math.log(n) - 2 * log_likelihood,
    }
