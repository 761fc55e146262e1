"""SHAP values for tree models (the optional ``explain`` extra).

Only tree families get SHAP values: ``shap.TreeExplainer`` computes them
exactly and fast on the model's own transformed features. The result is the
mean absolute SHAP value per transformed feature on a seeded sample of 200
holdout rows; for a binary classifier the positive class's output, for a
multiclass one the mean over the classes. Other models, an ensemble of
pipelines, or a missing ``shap`` package give ``{"unavailable": reason}``.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modelyard.evaluation.explain import sample_rows

__all__ = ["INSTALL_HINT", "SHAP_FEATURES", "SHAP_ROWS", "is_tree_model", "shap_summary"]

SHAP_ROWS = 200
SHAP_FEATURES = 50
INSTALL_HINT = "install modelyard[explain]"
_SKLEARN_TREES = (
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
)
_LIBRARY_TREES = {"lightgbm": "LGBM", "xgboost": "XGB"}


def is_tree_model(estimator: Any) -> bool:
    """Whether ``estimator`` is a tree model that ``shap.TreeExplainer`` explains."""
    cls = type(estimator)
    library = cls.__module__.split(".")[0]
    if library == "sklearn":
        return cls.__name__ in _SKLEARN_TREES
    prefix = _LIBRARY_TREES.get(library)
    return prefix is not None and cls.__name__.startswith(prefix)


def _import_shap() -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shap's plotting imports warn about matplotlib
            import shap
    except ImportError:
        return None
    module: ModuleType = shap
    return module


def _transformed(pipeline: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    preprocess = pipeline[:-1]
    values = np.asarray(preprocess.transform(X), dtype=np.float64)
    try:
        names = [str(n) for n in preprocess.get_feature_names_out()]
    except (AttributeError, ValueError):  # a step without output names
        names = [f"x{i}" for i in range(values.shape[1])]
    return values, names


def _mean_abs(values: Any, task: str, positive: int) -> tuple[np.ndarray, str]:
    """Mean |SHAP| per feature from whatever shape this shap version returns."""
    array = np.stack(values, axis=-1) if isinstance(values, list) else np.asarray(values)
    if array.ndim == 2:  # one output: a regression, or a binary model's log-odds
        return np.abs(array).mean(axis=0), "prediction" if task == "regression" else "positive"
    if task == "binary":
        return np.abs(array[:, :, positive]).mean(axis=0), "positive"
    return np.abs(array).mean(axis=(0, 2)), "mean over classes"


def shap_summary(
    model: Any, X: pd.DataFrame, *, task: str, positive: int, seed: int
) -> dict[str, Any]:
    """Mean absolute SHAP value per transformed feature, or why there is none.

    Args:
        model: A fitted pipeline whose last step is the estimator.
        X: Holdout rows (raw columns); a sample of at most 200 is explained.
        task: ``binary``, ``multiclass`` or ``regression``.
        positive: The class code explained for a binary classifier.
        seed: Seeds the sample.

    Returns:
        ``{"features", "mean_abs", "rows", "output", "total_features"}`` (the 50 largest,
        largest first), or ``{"unavailable": reason}``.
    """
    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return {
            "unavailable": f"SHAP values need a preprocessing + tree-model pipeline; this "
            f"model is a {type(model).__name__}"
        }
    estimator = model.steps[-1][1]
    if not is_tree_model(estimator):
        return {
            "unavailable": f"SHAP values are computed for tree models only; this model is "
            f"{type(estimator).__name__} (see the permutation importance instead)"
        }
    shap = _import_shap()
    if shap is None:
        return {"unavailable": INSTALL_HINT}
    sample = X.iloc[sample_rows(len(X), SHAP_ROWS, seed)]
    features, names = _transformed(model, sample)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # notices about output shapes of some versions
            values = shap.TreeExplainer(estimator).shap_values(features, check_additivity=False)
    except Exception as exc:  # noqa: BLE001 - any failure of shap is reported, not raised
        return {"unavailable": f"shap failed on {type(estimator).__name__}: {exc}"}
    mean_abs, output = _mean_abs(values, task, positive)
    order = np.argsort(-mean_abs, kind="stable")[:SHAP_FEATURES]
    return {
        "features": [names[i] for i in order],
        "mean_abs": mean_abs[order].tolist(),
        "rows": len(sample),
        "output": output,
        "total_features": len(names),
    }
