"""Small seeded datasets and fitted modelyard-style pipelines shared by the evaluation tests.

Each case is built once per session (``functools.cache``); tests must not mutate it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from modelyard.evaluation import Evaluation, evaluate
from modelyard.features import FeatureSpec, build_preprocessor


@dataclass(frozen=True)
class Case:
    """A fitted pipeline with its training and holdout rows."""

    task: str
    model: Any
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    labels: list[str] | None


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Numeric, categorical (with nulls) and a sensitive column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, n) + shift,
            "age": rng.integers(18, 80, n),
            "plan": pd.Series(
                rng.choice(np.array(["basic", "plus", "pro", None], dtype=object), n), dtype=object
            ),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            "noise": rng.normal(size=n),
        }
    )


def _signal(X: pd.DataFrame) -> np.ndarray:
    plan = X["plan"].map({"basic": 0.0, "plus": 0.5, "pro": 1.0}).fillna(0.2).to_numpy()
    return np.asarray((X["income"] - 50.0) / 10.0 + 0.03 * (X["age"] - 50) + plan)


def pipeline(X: pd.DataFrame, estimator: Any) -> Pipeline:
    """The pipeline training builds: modelyard preprocessing, then the estimator."""
    return Pipeline([("features", build_preprocessor(FeatureSpec(), X)), ("model", estimator)])


def _fit(task: str, X_train: pd.DataFrame, y_train: np.ndarray, estimator: Any) -> Any:
    return pipeline(X_train, estimator).fit(X_train, y_train)


@functools.cache
def binary(kind: str = "forest") -> Case:
    """Binary target from income, age and plan; ``kind`` is ``forest`` or ``linear``."""
    rng = np.random.default_rng(1)
    X_train, X_test = frame(500, 2), frame(300, 3)
    y_train = (_signal(X_train) + rng.normal(0, 0.7, 500) > 0.3).astype(np.int64)
    y_test = (_signal(X_test) + rng.normal(0, 0.7, 300) > 0.3).astype(np.int64)
    estimator: Any = LogisticRegression(max_iter=500)
    if kind == "forest":
        estimator = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0)
    model = _fit("binary", X_train, y_train, estimator)
    return Case("binary", model, X_train, y_train, X_test, y_test, ["stay", "churn"])


@functools.cache
def multiclass() -> Case:
    """Three classes cut from the same signal."""
    rng = np.random.default_rng(4)
    X_train, X_test = frame(450, 5), frame(300, 6)
    cut = [-0.5, 0.7]
    y_train = np.digitize(_signal(X_train) + rng.normal(0, 0.5, 450), cut).astype(np.int64)
    y_test = np.digitize(_signal(X_test) + rng.normal(0, 0.5, 300), cut).astype(np.int64)
    model = _fit("multiclass", X_train, y_train, LogisticRegression(max_iter=1000))
    return Case("multiclass", model, X_train, y_train, X_test, y_test, ["low", "mid", "high"])


@functools.cache
def regression(kind: str = "linear") -> Case:
    """A continuous target; ``kind`` is ``linear`` (Ridge) or ``forest``."""
    rng = np.random.default_rng(7)
    X_train, X_test = frame(400, 8), frame(250, 9)
    y_train = 3.0 * _signal(X_train) + rng.normal(0, 0.5, 400)
    y_test = 3.0 * _signal(X_test) + rng.normal(0, 0.5, 250)
    estimator: Any = Ridge(alpha=1.0)
    if kind == "forest":
        estimator = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    model = _fit("regression", X_train, y_train, estimator)
    return Case("regression", model, X_train, y_train, X_test, y_test, None)


@functools.cache
def evaluated(name: str) -> Evaluation:
    """The full evaluation of a case (``binary``, ``multiclass``, ``regression``)."""
    case = {"binary": binary, "multiclass": multiclass, "regression": regression}[name]()
    return evaluate(
        case.model,
        case.X_test,
        case.y_test,
        task=case.task,
        labels=case.labels,
        X_train=case.X_train,
        y_train=case.y_train,
        sensitive="region",
        slices=["plan", "income"],
        seed=0,
    )
