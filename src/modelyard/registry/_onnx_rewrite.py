"""Rewrite a fitted model into a tree of steps that skl2onnx converts exactly.

The fitted model itself is never changed: the rewrite makes shallow copies of the
pipelines, column transformers and ensembles on the way, and shares everything else.
Three things change, each because skl2onnx's own handling would give other numbers
than scikit-learn or fail to convert:

- A fitted ``OneHotEncoder``, ``OrdinalEncoder`` or ``TargetEncoder`` becomes a
  :class:`~modelyard.registry._onnx_encoders.Lookup` table read off the encoder's own
  ``transform``: skl2onnx refuses infrequent levels and computes target encodings in
  float32.
- A fitted ``KBinsDiscretizer`` becomes :class:`Bins` (its inner bin edges), compared
  in double: skl2onnx's discretiser compares in float32 and outputs float32.
- A fitted ``SimpleImputer`` becomes :class:`FillMissing` (its per-column statistics),
  converted with ``Where(missing, statistic, x)``: skl2onnx's imputer rounds its fill
  values to float32 and refuses ``NaN`` as the missing marker of text columns.
- The missing-value indicator (``AsObject(stringify=False)`` + ``MissingIndicator``),
  which reads columns of different kinds at once, becomes one :class:`MissingFlag` per
  column: skl2onnx would first merge those columns into one tensor of one type.
- A fitted HistGradientBoosting model becomes
  :class:`~modelyard.registry._onnx_hgb.BoostedClassifier` (or ``...Regressor``),
  converted in double: skl2onnx's converter compares in float32 and fails on current
  scikit-learn.
- scikit-learn's forests and XGBoost predict on float32 features natively, so they get
  a cast to float32 in front of them and the ONNX trees compare the same numbers with
  their thresholds. LightGBM predicts in double, but onnxmltools' trees read float32
  only: it gets the cast too, and its thresholds are rounded alike, so only a value
  within float32 rounding of a threshold could branch differently (the parity check
  would see it).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, OrdinalEncoder, TargetEncoder

from modelyard.features import AsObject
from modelyard.registry._onnx_encoders import lookup_of
from modelyard.registry._onnx_graph import Unconvertible
from modelyard.registry._onnx_hgb import boosted

__all__ = ["Bins", "FillMissing", "MissingFlag", "rewrite_for_onnx"]

_FLOAT32_TREES: tuple[type, ...] = (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
_FLOAT32_TREE_NAMES = frozenset(
    {"LGBMClassifier", "LGBMRegressor", "XGBClassifier", "XGBRegressor"}
)
_ENSEMBLES = (StackingClassifier, StackingRegressor, VotingClassifier, VotingRegressor)


class FillMissing(BaseEstimator):  # type: ignore[misc]
    """Stands in for a fitted ``SimpleImputer``: fill each column's missing values.

    Args:
        statistics: The fill value of each column (numbers, or text for text columns).
    """

    def __init__(self, statistics: Any = None) -> None:
        self.statistics = statistics


class Bins(BaseEstimator):  # type: ignore[misc]
    """Stands in for a fitted ``KBinsDiscretizer``: bin numbers, or their one-hot columns.

    Args:
        edges: Per column, the inner bin edges (``bin_edges_[j][1:-1]``).
        onehot: One column per bin instead of the bin number.
    """

    def __init__(self, edges: Any = None, onehot: bool = False) -> None:
        self.edges = edges
        self.onehot = onehot


class MissingFlag(BaseEstimator):  # type: ignore[misc]
    """Stands in for the missing-value indicator of one column: 1.0 where it is missing."""


def _reads_float32(step: Any) -> bool:
    return isinstance(step, _FLOAT32_TREES) or type(step).__name__ in _FLOAT32_TREE_NAMES


def _is_missing_indicator(step: Any) -> bool:
    if not isinstance(step, Pipeline) or len(step.steps) != 2:
        return False
    first, last = step.steps[0][1], step.steps[1][1]
    return isinstance(first, AsObject) and isinstance(last, MissingIndicator)


def _fill_missing(imputer: SimpleImputer) -> FillMissing:
    missing = imputer.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        raise Unconvertible(
            f"SimpleImputer with missing_values={missing!r} is not converted (only NaN is)"
        )
    if getattr(imputer, "add_indicator", False):
        raise Unconvertible("SimpleImputer(add_indicator=True) is not converted")
    return FillMissing(np.asarray(imputer.statistics_))


def _bins(discretizer: KBinsDiscretizer) -> Bins:
    if discretizer.encode not in ("ordinal", "onehot-dense"):
        raise Unconvertible(f"KBinsDiscretizer(encode={discretizer.encode!r}) is not converted")
    edges = [np.asarray(e, dtype=np.float64)[1:-1] for e in discretizer.bin_edges_]
    return Bins(edges, onehot=discretizer.encode == "onehot-dense")


def _flags(name: str, step: Pipeline, columns: list[Any]) -> list[tuple[str, Any, list[Any]]]:
    indicator: MissingIndicator = step.steps[1][1]
    missing = indicator.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        raise Unconvertible(
            f"MissingIndicator with missing_values={missing!r} is not converted (only NaN is)"
        )
    return [(f"{name}_{i}", MissingFlag(), [columns[i]]) for i in indicator.features_]


def _column_transformer(ct: ColumnTransformer) -> ColumnTransformer:
    entries: list[tuple[str, Any, Any]] = []
    for name, step, columns in ct.transformers_:
        if isinstance(step, str):
            if step != "drop":
                raise Unconvertible(f"ColumnTransformer step {name!r}={step!r} is not converted")
            continue
        if not all(isinstance(c, str) for c in columns):
            raise Unconvertible(
                f"ColumnTransformer step {name!r} selects columns by position, not by name"
            )
        if _is_missing_indicator(step):
            entries.extend(_flags(name, step, list(columns)))
        else:
            entries.append((name, rewrite_for_onnx(step), list(columns)))
    if ct.transformer_weights:
        raise Unconvertible("ColumnTransformer with transformer_weights is not converted")
    out = copy.copy(ct)
    out.transformers_ = entries
    return out


def _pipeline(pipe: Pipeline) -> Pipeline:
    from skl2onnx.sklapi import CastTransformer

    steps: list[tuple[str, Any]] = []
    for name, step in pipe.steps:
        if step is None or step == "passthrough":
            continue
        if _reads_float32(step):
            steps += [(f"{name}_float32", CastTransformer(dtype=np.float32)), (name, step)]
        else:
            steps.append((name, rewrite_for_onnx(step)))
    out = copy.copy(pipe)
    out.steps = steps
    return out


def _ensemble(model: Any) -> Any:
    members = [rewrite_for_onnx(m) if m not in (None, "drop") else m for m in model.estimators_]
    out = copy.copy(model)
    out.estimators_ = members
    if isinstance(model, VotingClassifier):
        out.flatten_transform = False  # shapes transform() only; skl2onnx refuses True
    return out


def rewrite_for_onnx(model: Any) -> Any:
    """A copy of ``model`` (fitted) whose steps convert exactly; ``model`` is left untouched.

    Args:
        model: A fitted pipeline, column transformer, ensemble or estimator.

    Returns:
        The rewritten model (``model`` itself where nothing changes).

    Raises:
        Unconvertible: A step configured in a way the converters do not reproduce.
    """
    if isinstance(model, Pipeline):
        return _pipeline(model)
    if isinstance(model, ColumnTransformer):
        return _column_transformer(model)
    if isinstance(model, SimpleImputer):
        return _fill_missing(model)
    if isinstance(model, OneHotEncoder | OrdinalEncoder | TargetEncoder):
        return lookup_of(model)
    if isinstance(model, KBinsDiscretizer):
        return _bins(model)
    if isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return boosted(model)
    if isinstance(model, _ENSEMBLES):
        return _ensemble(model)
    if _reads_float32(model):
        return _pipeline(Pipeline([("model", model)]))
    return model
