"""The custom transformers: sklearn contract, coercions, log1p refusals, datetime parts."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelyard.exceptions import ValidationError
from modelyard.features.transformers import (
    AsFloat,
    AsObject,
    DatetimeFeatures,
    Log1p,
    TargetFolds,
)


@pytest.mark.parametrize("make", [AsFloat, AsObject, Log1p, DatetimeFeatures])
def test_the_sklearn_contract(make: type) -> None:
    transformer = make()
    assert clone(transformer).get_params() == transformer.get_params()
    with pytest.raises(NotFittedError):
        transformer.transform(pd.DataFrame({"a": [1.0]}))
    frame = pd.DataFrame(
        {"a": pd.to_datetime(["2024-01-01"])} if make is DatetimeFeatures else {"a": [1.0]}
    )
    assert transformer.fit(frame) is transformer
    assert transformer.n_features_in_ == 1
    assert list(transformer.feature_names_in_) == ["a"]
    again = pickle.loads(pickle.dumps(transformer))
    np.testing.assert_array_equal(
        np.asarray(again.transform(frame)), np.asarray(transformer.transform(frame))
    )


def test_column_count_is_checked_at_transform() -> None:
    fitted = AsFloat().fit(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(ValidationError, match="fitted on 2 column"):
        fitted.transform(pd.DataFrame({"a": [1]}))


def test_arrays_work_without_names() -> None:
    fitted = AsFloat().fit(np.array([[1, 2]]))
    assert list(fitted.get_feature_names_out()) == ["x0", "x1"]
    assert list(fitted.get_feature_names_out(["p", "q"])) == ["p", "q"]
    with pytest.raises(ValidationError, match="2-D table"):
        fitted.transform(np.array([1, 2]))


def test_as_float_evens_out_missing_values_and_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "span": pd.to_timedelta(["1min", None, "2s"]),
            "obj": pd.Series([1, None, 2.5], dtype=object),
            "text": pd.Series(["1.5", None, "2"], dtype="str"),
        }
    )
    out = AsFloat().fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert (out.dtypes == np.float64).all()
    np.testing.assert_array_equal(
        out.to_numpy(),
        [[1, 1, 60, 1, 1.5], [np.nan] * 5, [3, 0, 2, 2.5, 2]],
    )


def test_as_float_names_the_column_that_holds_text() -> None:
    fitted = AsFloat().fit(pd.DataFrame({"price": [1.0]}))
    with pytest.raises(ValidationError, match="column 'price' must hold numbers"):
        fitted.transform(pd.DataFrame({"price": ["cheap"]}))


def test_as_object_stringifies_and_marks_missing_as_nan() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.Series(["a", None, "c"], dtype="str"),
            "c": pd.Series([1, None, 2], dtype="category"),
            "o": pd.Series(["x", pd.NA, 3], dtype=object),
        }
    )
    out = AsObject().fit_transform(frame)
    assert out.dtype == object
    assert out[0].tolist() == ["a", "1", "x"]
    assert all(isinstance(v, float) and np.isnan(v) for v in out[1])
    assert out[2].tolist() == ["c", "2", "3"]
    raw = AsObject(stringify=False).fit_transform(frame)
    assert raw[2, 2] == 3
    assert np.isnan(raw[1, 2])


def test_log1p_matches_numpy_and_passes_nan() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, np.nan, 1e6]})
    out = Log1p().fit_transform(frame)
    np.testing.assert_array_equal(out, np.log1p(frame.to_numpy()))


def test_log1p_refuses_negatives_naming_the_column() -> None:
    frame = pd.DataFrame({"ok": [1.0, 2.0], "balance": [3.0, -2.5]})
    with pytest.raises(ValidationError, match="column 'balance' has 1 negative value") as info:
        Log1p().fit(frame)
    assert "minimum -2.5" in str(info.value)
    fitted = Log1p().fit(frame[["ok"]])
    with pytest.raises(ValidationError, match="column 'ok' has 2 negative"):
        fitted.transform(pd.DataFrame({"ok": [-1.0, -3.0]}))


def test_datetime_features() -> None:
    frame = pd.DataFrame(
        {
            "at": pd.to_datetime(["1970-01-02", None, "2024-02-29 12:00"], format="ISO8601"),
            "tz": pd.to_datetime(["2024-03-31 01:30"] * 3).tz_localize("Europe/Oslo"),
        }
    )
    fitted = DatetimeFeatures().fit(frame)
    out = fitted.transform(frame)
    assert list(fitted.get_feature_names_out()) == [
        "at_epoch_days",
        "at_month",
        "at_dayofweek",
        "tz_epoch_days",
        "tz_month",
        "tz_dayofweek",
    ]
    assert out[0, :3].tolist() == [1.0, 1.0, 4.0]  # 1970-01-02 was a Friday
    assert np.isnan(out[1, :3]).all()
    assert out[2, 1:3].tolist() == [2.0, 3.0]  # a Thursday in February
    assert out[2, 0] == pytest.approx(19782.5)
    assert out[0, 3] == pytest.approx(19813 + 0.5 / 24)  # 01:30 in Oslo (UTC+1) is 00:30 UTC


def test_datetime_features_parse_strings_and_refuse_garbage() -> None:
    fitted = DatetimeFeatures().fit(pd.DataFrame({"at": pd.to_datetime(["2024-01-01"])}))
    out = fitted.transform(pd.DataFrame({"at": ["2024-01-02"]}))
    assert out[0, 2] == 1.0  # a Tuesday
    with pytest.raises(ValidationError, match="column 'at' must hold dates"):
        fitted.transform(pd.DataFrame({"at": ["not a date"]}))


def test_target_folds_stratify_labels_and_are_seeded() -> None:
    y = np.array([0] * 10 + [1] * 5)
    folds = list(TargetFolds(5, random_state=0).split(np.zeros((15, 1)), y))
    assert len(folds) == 5 == TargetFolds(5).get_n_splits()
    assert all(y[test].sum() == 1 for _, test in folds)  # one positive per fold: stratified
    again = list(TargetFolds(5, random_state=0).split(np.zeros((15, 1)), y))
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    continuous = list(TargetFolds(3).split(np.zeros((9, 1)), np.linspace(0, 1, 9)))
    assert sorted(np.concatenate([test for _, test in continuous]).tolist()) == list(range(9))
    assert repr(TargetFolds(3, 7)) == "TargetFolds(n_splits=3, random_state=7)"
