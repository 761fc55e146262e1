"""Averaging and stacking of the best single candidates, scored on the same folds.

Each member is a whole pipeline (its own preprocessing and model), so members
may differ in both. Averaging takes the mean of the members' probabilities
(classification) or predictions (regression); stacking fits a simple final
model (logistic regression / ridge) on the members' cross-fitted outputs.
"""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import LogisticRegression, RidgeCV

__all__ = ["average_of", "stack_of"]

_STACK_FOLDS = 3


def average_of(members: list[tuple[str, Any]], task: str) -> Any:
    """An unfitted estimator averaging ``members`` ((name, pipeline) pairs)."""
    if task == "regression":
        return VotingRegressor(members)
    return VotingClassifier(members, voting="soft")


def stack_of(members: list[tuple[str, Any]], task: str, seed: int) -> Any:
    """An unfitted stacking estimator over ``members`` with a linear final model."""
    if task == "regression":
        return StackingRegressor(members, final_estimator=RidgeCV(), cv=_STACK_FOLDS)
    final = LogisticRegression(max_iter=2000, random_state=seed)
    return StackingClassifier(
        members, final_estimator=final, cv=_STACK_FOLDS, stack_method="predict_proba"
    )
