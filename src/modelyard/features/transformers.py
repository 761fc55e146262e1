"""Small transformers for what scikit-learn has no built-in for.

Each follows the scikit-learn contract (``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``, ``get_feature_names_out``), so a compiled
preprocessor clones, pickles and reports its output names like any sklearn estimator.
They live at module level because a pickled model refers to them by import path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from modelyard.exceptions import ValidationError

__all__ = ["AsFloat", "AsObject", "DatetimeFeatures", "Log1p", "TargetFolds"]


class _ColumnwiseTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Records the input columns at fit and checks them at transform."""

    def fit(self, X: Any, y: Any = None) -> _ColumnwiseTransformer:
        """Record the input columns.

        Args:
            X: A DataFrame (or a 2-D array).
            y: Ignored.

        Returns:
            self
        """
        frame = _as_frame(X)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _input(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        frame = _as_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} column(s) "
                f"but got {frame.shape[1]}"
            )
        return frame

    def _names_in(self, input_features: Any = None) -> list[str]:
        if input_features is not None:
            return [str(name) for name in input_features]
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        check_is_fitted(self, "n_features_in_")
        return [f"x{i}" for i in range(self.n_features_in_)]

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """The output column names (the input names, unchanged)."""
        return np.asarray(self._names_in(input_features), dtype=object)


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValidationError(f"expected a 2-D table of features, got {array.ndim} dimension(s)")
    return pd.DataFrame(array)


def _to_float(series: pd.Series, name: str) -> NDArray[np.float64]:
    try:
        if ptypes.is_timedelta64_dtype(series.dtype):
            series = series.dt.total_seconds()
        elif series.dtype == object and ptypes.infer_dtype(series).startswith("timedelta"):
            series = pd.to_timedelta(series).dt.total_seconds()
        elif not (ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype)):
            series = pd.to_numeric(series, errors="raise")
        values: NDArray[np.float64] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"column {name!r} must hold numbers (it was numeric when the preprocessor was "
            f"built) but has values that are not: {exc}",
            column=name,
        ) from None


class AsFloat(_ColumnwiseTransformer):
    """Turn numeric, nullable-integer, boolean and timedelta columns into float64.

    Missing values (``None``, ``pd.NA``, ``NaN``) become ``NaN``, True/False become
    1.0/0.0 and timedeltas become seconds. The output is a DataFrame with the input's
    column names, so a following step can name a column in its errors.

    Raises:
        ValidationError: A column holds text that is not a number.
    """

    def transform(self, X: Any) -> pd.DataFrame:
        """The columns as float64 (a DataFrame with the same names and index)."""
        frame = self._input(X)
        names = self._names_in()
        data = {name: _to_float(frame.iloc[:, i], name) for i, name in enumerate(names)}
        return pd.DataFrame(data, index=frame.index, columns=names)


class AsObject(_ColumnwiseTransformer):
    """Turn columns into an object array with ``NaN`` for every kind of missing value.

    scikit-learn's imputers and encoders treat ``NaN`` as missing but not ``pd.NA`` or
    ``None``, and refuse columns mixing strings and numbers; this step evens that out.

    Args:
        stringify: Write every present value as ``str(value)``, so categories compare as
            text whatever dtype (``object``, ``str``, ``category``) the column arrives in.
    """

    def __init__(self, stringify: bool = True) -> None:
        self.stringify = stringify

    def transform(self, X: Any) -> NDArray[np.object_]:
        """The columns as an object array, missing values as ``NaN``."""
        values: NDArray[np.object_] = self._input(X).to_numpy(dtype=object, copy=True)
        missing = pd.isna(values)
        if self.stringify:
            values = values.astype(str).astype(object)
        values[missing] = np.nan
        return values


class Log1p(_ColumnwiseTransformer):
    """``log(1 + x)``, refusing negative values (``NaN`` passes through to the imputer).

    A sign-preserving variant would silently change the meaning of negative inputs, so
    a negative value is an error that names the column, at fit and at transform.

    Raises:
        ValidationError: A negative value, naming the column, the count and the minimum.
    """

    def fit(self, X: Any, y: Any = None) -> Log1p:
        """Check that no value is negative and record the input columns."""
        super().fit(X, y)
        self._checked(X)
        return self

    def transform(self, X: Any) -> NDArray[np.float64]:
        """``log1p`` of every value."""
        return np.log1p(self._checked(X))

    def _checked(self, X: Any) -> NDArray[np.float64]:
        values: NDArray[np.float64] = self._input(X).to_numpy(dtype=np.float64, na_value=np.nan)
        negative = values < 0
        if negative.any():
            col = int(np.flatnonzero(negative.any(axis=0))[0])
            name = self._names_in()[col]
            raise ValidationError(
                f"log1p: column {name!r} has {int(negative[:, col].sum())} negative value(s) "
                f"(minimum {np.nanmin(values[:, col]):g}); log1p needs values >= 0, so "
                "remove log1p for this column or shift the values before training",
                column=name,
            )
        return values


_DATE_PARTS = ("epoch_days", "month", "dayofweek")
_EPOCH = pd.Timestamp("1970-01-01")


class DatetimeFeatures(_ColumnwiseTransformer):
    """Turn each datetime column into numbers: days since 1970, month (1-12), weekday (0-6).

    Time-zone aware values are converted to UTC first; text is parsed as ISO 8601
    (what JSON requests carry at serving time); missing values become ``NaN`` (impute
    them in the next step).

    Raises:
        ValidationError: A value that is not a date or time.
    """

    def transform(self, X: Any) -> NDArray[np.float64]:
        """Three float columns per input column."""
        frame = self._input(X)
        parts: list[NDArray[np.float64]] = []
        for i, name in enumerate(self._names_in()):
            stamps = _to_datetime(frame.iloc[:, i], name)
            days = (stamps - _EPOCH) / pd.Timedelta(days=1)
            for part in (days, stamps.dt.month, stamps.dt.day_of_week):
                parts.append(part.to_numpy(dtype=np.float64, na_value=np.nan))
        if not parts:
            return np.empty((len(frame), 0), dtype=np.float64)
        return np.column_stack(parts)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """``<column>_epoch_days``, ``<column>_month``, ``<column>_dayofweek`` per column."""
        names = self._names_in(input_features)
        return np.asarray(
            [f"{name}_{part}" for name in names for part in _DATE_PARTS], dtype=object
        )


def _to_datetime(series: pd.Series, name: str) -> pd.Series:
    try:
        if ptypes.is_datetime64_dtype(series.dtype):
            stamps = series
        else:  # aware values, text (JSON at serving time), dates: all to naive UTC
            stamps = pd.to_datetime(series, utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"column {name!r} must hold dates or times (it did when the preprocessor was "
            f"built) but has values that are not: {exc}",
            column=name,
        ) from None
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


class TargetFolds:
    """Shuffled, seeded k-fold splits for target encoding: stratified for class labels.

    scikit-learn >= 1.9 takes the cross-fitting splitter of
    :class:`~sklearn.preprocessing.TargetEncoder` as ``cv``; this one keeps the encoder's
    old default (stratified for classification, plain for regression) but seeded, so the
    same data always gives the same encodings.

    Args:
        n_splits: Number of folds.
        random_state: Seed of the shuffle.
    """

    def __init__(self, n_splits: int = 5, random_state: int = 0) -> None:
        self.n_splits = n_splits
        self.random_state = random_state

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[Any, Any]]:
        """Train/test index arrays for each fold."""
        labels = type_of_target(y) in ("binary", "multiclass")
        kind = StratifiedKFold if labels else KFold
        splitter = kind(self.n_splits, shuffle=True, random_state=self.random_state)
        return splitter.split(X, y)  # type: ignore[no-any-return]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return self.n_splits

    def __repr__(self) -> str:
        return f"TargetFolds(n_splits={self.n_splits}, random_state={self.random_state})"
