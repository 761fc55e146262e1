"""The scikit-learn steps for one group of columns that share their resolved options.

Every choice that would otherwise depend on a random seed or on the scikit-learn
version's defaults is pinned here, so one spec compiles to the same transforms everywhere.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from modelyard.features.options import Bucketize, ColumnSpec
from modelyard.features.transformers import AsFloat, AsObject, DatetimeFeatures, Log1p, TargetFolds

__all__ = ["BUILTIN_DEFAULTS", "MAX_CATEGORIES", "column_pipeline", "numeric_steps"]

MAX_CATEGORIES = 50  # one-hot width cap: rarer levels share one "infrequent" column

BUILTIN_DEFAULTS = {
    "numeric": ColumnSpec(impute="median", scale="standard"),
    "categorical": ColumnSpec(
        impute="most_frequent",
        encode="onehot",
        handle_unknown="infrequent_if_exist",
        max_categories=MAX_CATEGORIES,
    ),
    "boolean": ColumnSpec(impute="most_frequent"),
    "datetime": ColumnSpec(impute="median", scale="standard"),
}

_SCALERS: dict[str, type[BaseEstimator]] = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "maxabs": MaxAbsScaler,
    "robust": RobustScaler,
}
_SUBSAMPLE = 200_000  # KBinsDiscretizer's own default, pinned along with its seed


def _imputer(spec: ColumnSpec, fill_value: Any = None) -> SimpleImputer:
    # keep_empty_features: a column that is all-null in one CV fold keeps its place,
    # so every fold's preprocessor has the same output columns.
    return SimpleImputer(
        strategy=spec.impute or "most_frequent",
        fill_value=spec.fill_value if fill_value is None else fill_value,
        keep_empty_features=True,
    )


def _scaler(spec: ColumnSpec) -> list[tuple[str, Any]]:
    if spec.scale in (None, "none"):
        return []
    return [("scale", _SCALERS[spec.scale]())]


def _bucketizer(bucketize: Bucketize) -> KBinsDiscretizer:
    params: dict[str, Any] = {
        "n_bins": bucketize.bins,
        "strategy": bucketize.strategy,
        "encode": "onehot-dense" if bucketize.encode == "onehot" else "ordinal",
        "subsample": _SUBSAMPLE,
        "random_state": 0,
        "dtype": np.float64,
    }
    # scikit-learn 1.7 added quantile_method and warns until it is set; older ones lack it.
    if "quantile_method" in inspect.signature(KBinsDiscretizer).parameters:
        params["quantile_method"] = "averaged_inverted_cdf"
    return KBinsDiscretizer(**params)


def numeric_steps(spec: ColumnSpec, *, bucketize: bool = True) -> list[tuple[str, Any]]:
    """Steps for numeric columns: to float, log1p, impute, then bins or a scaler.

    Args:
        spec: The resolved options.
        bucketize: Apply ``spec.bucketize`` (off for the copies feeding interactions,
            which multiply the imputed, scaled values).

    Returns:
        ``(name, transformer)`` pairs for a :class:`~sklearn.pipeline.Pipeline`.
    """
    steps: list[tuple[str, Any]] = [("float", AsFloat())]
    if spec.log1p:
        steps.append(("log1p", Log1p()))
    steps.append(("impute", _imputer(spec)))
    if bucketize and spec.bucketize is not None:
        steps.append(("bucketize", _bucketizer(spec.bucketize)))
    else:
        steps.extend(_scaler(spec))
    return steps


def _target_encoder(categories: Any) -> TargetEncoder:
    # scikit-learn 1.9 deprecated shuffle/random_state in favour of a splitter as cv;
    # older versions take only an int cv. Either way the folds are seeded.
    if TargetEncoder().random_state == "deprecated":
        return TargetEncoder(categories=categories, cv=TargetFolds(5, random_state=0))
    return TargetEncoder(categories=categories, cv=5, shuffle=True, random_state=0)


def _encoder(spec: ColumnSpec, n_columns: int) -> Any:
    categories: Any = "auto"
    if spec.categories is not None:
        categories = [[str(level) for level in spec.categories]] * n_columns
    if spec.encode == "target":
        return _target_encoder(categories)
    if spec.encode == "ordinal":
        return OrdinalEncoder(
            categories=categories,
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            min_frequency=spec.min_frequency,
            max_categories=spec.max_categories,
            dtype=np.float64,
        )
    return OneHotEncoder(
        categories=categories,
        handle_unknown=spec.handle_unknown or "infrequent_if_exist",
        min_frequency=spec.min_frequency,
        max_categories=spec.max_categories,
        sparse_output=False,
        dtype=np.float64,
    )


def column_pipeline(kind: str, spec: ColumnSpec, n_columns: int) -> Pipeline:
    """The pipeline for a group of columns of one kind with the same resolved options.

    Args:
        kind: ``numeric``, ``categorical``, ``boolean`` or ``datetime``.
        spec: The resolved options (built-in defaults, type defaults, column options).
        n_columns: How many columns the group has (explicit categories are per column).

    Returns:
        An unfitted pipeline whose output is float64.
    """
    if kind == "numeric":
        return Pipeline(numeric_steps(spec))
    if kind == "datetime":
        return Pipeline(
            [("datetime", DatetimeFeatures()), ("impute", _imputer(spec)), *_scaler(spec)]
        )
    if kind == "boolean":
        fill = None if spec.fill_value is None else float(spec.fill_value)
        return Pipeline([("float", AsFloat()), ("impute", _imputer(spec, fill))])
    fill_text = None if spec.fill_value is None else str(spec.fill_value)
    return Pipeline(
        [
            ("text", AsObject()),
            ("impute", _imputer(spec, fill_text)),
            ("encode", _encoder(spec, n_columns)),
        ]
    )
