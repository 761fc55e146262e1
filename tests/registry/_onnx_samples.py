"""Small, seeded frames with every column kind, and fitted pipelines for the ONNX tests."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modelyard.features import FeatureSpec, build_preprocessor
from modelyard.registry.onnx_convert import convert_to_onnx
from modelyard.registry.onnx_model import OnnxModel
from modelyard.training.families import get_family
from modelyard.training.signature import signature_of

TARGET = "y"
# small models: the point is the conversion, not the fit
SMALL: dict[str, dict[str, Any]] = {
    "linear": {},
    "random_forest": {"n_estimators": 15, "max_depth": 6},
    "extra_trees": {"n_estimators": 15, "max_depth": 6},
    "hist_gradient_boosting": {"max_iter": 25},
    "lightgbm": {"n_estimators": 25, "num_leaves": 15},
    "xgboost": {"n_estimators": 25, "max_depth": 4},
    "torch_mlp": {"units": 16, "activation": "gelu", "batch_size": 32},
}


def make_frame(n: int = 240, *, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """Customers with numeric (nullable int too), text, category, boolean and datetime columns.

    Every column but ``senior`` has missing values; ``region`` has two rare levels.
    """
    rng = np.random.default_rng(seed)
    charges = rng.gamma(2.0, 30.0, n)
    tenure = rng.integers(0, 72, n)
    levels = ["north", "south", "east", "west", "isle", "cape"]
    region = rng.choice(levels, n, p=[0.4, 0.3, 0.15, 0.11, 0.02, 0.02])
    score = 0.02 * charges - 0.05 * tenure + (region == "west") * 1.5 - 0.5
    if task == "regression":
        y: Any = 100.0 * score + rng.normal(0.0, 10.0, n)
    elif task == "multiclass":
        y = np.digitize(score + rng.normal(0.0, 0.5, n), [-1.0, 0.5])
    else:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-score))).astype(int)
    stamps = pd.Timestamp("1968-06-01") + pd.to_timedelta(rng.integers(0, 25_000 * 24, n), "h")
    return pd.DataFrame(
        {
            "charges": np.where(rng.random(n) < 0.1, np.nan, charges),
            "tenure": pd.array(np.where(rng.random(n) < 0.05, None, tenure), dtype="Int64"),
            "region": pd.Series(np.where(rng.random(n) < 0.05, None, region), dtype=object),
            "plan": pd.Series(rng.choice(["basic", "plus", "pro"], n), dtype="category"),
            "paperless": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "senior": rng.random(n) < 0.2,
            "signup": pd.Series(stamps).where(rng.random(n) > 0.05),
            TARGET: y,
        }
    )


def holdout(task: str = "binary", n: int = 120) -> pd.DataFrame:
    """Unseen rows: another seed, plus an unseen level, missing values and a new plan."""
    frame = make_frame(n, task=task, seed=99).drop(columns=TARGET)
    frame["plan"] = frame["plan"].astype(object)
    frame.loc[:4, "region"] = "atlantis"
    frame.loc[5:8, "plan"] = None
    frame.loc[9:11, "plan"] = "enterprise"
    frame.loc[12:14, ["charges", "tenure", "paperless", "signup"]] = None
    return frame


def fit_pipeline(
    family: str,
    task: str = "binary",
    *,
    spec: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
) -> tuple[Pipeline, dict[str, Any]]:
    """A fitted ``features`` + ``model`` pipeline (as training builds it) and its signature."""
    data = make_frame(task=task) if frame is None else frame
    X, y = data.drop(columns=TARGET), data[TARGET]
    pre = build_preprocessor(FeatureSpec.from_dict(spec or {}), X)
    model = get_family(family).build(SMALL[family] if params is None else params, task, 0, 1)
    pipe = Pipeline([("features", pre), ("model", model)]).fit(X, y)
    labels = None if task == "regression" else sorted(int(v) for v in set(y))
    signature = signature_of(X, target=TARGET, task=task, labels=labels, excluded=[])
    return pipe, signature


@cache
def fitted(family: str, task: str) -> tuple[Pipeline, dict[str, Any]]:
    """:func:`fit_pipeline` with the default spec, cached per module run."""
    return fit_pipeline(family, task)


def onnx_of(model: Any, signature: dict[str, Any]) -> OnnxModel:
    """Convert and load."""
    return OnnxModel(convert_to_onnx(model, signature), signature)
