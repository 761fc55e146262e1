"""The input signature: column kinds agree with the preprocessing; ranges and levels per kind."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from modelyard.features import FeatureSpec, build_preprocessor, column_kinds
from modelyard.registry.onnx_convert import convert_to_onnx
from modelyard.registry.onnx_model import OnnxModel
from modelyard.training.signature import MAX_LEVELS, signature_of


def inputs(frame: pd.DataFrame, excluded: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The signature's input entries by column name."""
    sig = signature_of(frame, target="y", task="regression", labels=None, excluded=excluded or [])
    return {c["name"]: c for c in sig["inputs"]}


def odd_frame() -> pd.DataFrame:
    """Columns whose dtype does not tell their kind: object bools, dates, numbers; timedeltas."""
    return pd.DataFrame(
        {
            "flag": pd.Series([True, False, None, True], dtype=object),
            "day": pd.Series(
                [dt.date(2021, 3, 1), None, dt.date(2020, 1, 15), dt.date(2022, 12, 31)],
                dtype=object,
            ),
            "seen": pd.Series(
                [
                    dt.datetime(2020, 6, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                    dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
                    None,
                    dt.date(2021, 1, 1),
                ],
                dtype=object,
            ),
            "wait": pd.to_timedelta([90, None, 30, 3600], unit="s"),
            "pause": pd.Series(
                [dt.timedelta(minutes=2), dt.timedelta(seconds=1), None, dt.timedelta(0)],
                dtype=object,
            ),
            "amount": pd.Series([1, 2.5, None, -4], dtype=object),
            "price": pd.Series(
                [Decimal("9.99"), None, Decimal("0.5"), Decimal("12")], dtype=object
            ),
        }
    )


def test_a_plain_frame_keeps_its_signature() -> None:
    frame = pd.DataFrame(
        {
            "age": [30, 41, 25],
            "charges": [10.5, np.nan, 3.25],
            "tenure": pd.array([1, None, 7], dtype="Int64"),
            "city": ["Oslo", "Rome", None],
            "plan": pd.Series(["pro", "basic", "pro"], dtype="category"),
            "senior": [True, False, False],
            "signup": pd.to_datetime(["2020-01-02", None, "2019-05-06"]),
        }
    )
    sig = signature_of(frame, target="churn", task="binary", labels=[0, 1], excluded=["age"])
    assert sig == {
        "inputs": [
            # Not read by the model: no values of it are recorded.
            {"name": "age", "dtype": "int64", "nullable": False, "used": False, "kind": "numeric"},
            {"name": "charges", "dtype": "float64", "nullable": True, "used": True}
            | {"kind": "numeric", "min": 3.25, "max": 10.5},
            {"name": "tenure", "dtype": "Int64", "nullable": True, "used": True}
            | {"kind": "numeric", "min": 1.0, "max": 7.0},
            {"name": "city", "dtype": str(frame["city"].dtype), "nullable": True, "used": True}
            | {"kind": "categorical", "levels": ["Oslo", "Rome"]},
            {"name": "plan", "dtype": "category", "nullable": False, "used": True}
            | {"kind": "categorical", "levels": ["basic", "pro"]},
            {"name": "senior", "dtype": "bool", "nullable": False, "used": True, "kind": "boolean"},
            {"name": "signup", "dtype": str(frame["signup"].dtype), "nullable": True, "used": True}
            | {"kind": "datetime", "min": "2019-05-06 00:00:00", "max": "2020-01-02 00:00:00"},
        ],
        "output": {"name": "churn", "task": "binary", "classes": [0, 1]},
    }
    json.dumps(sig, allow_nan=False)


def test_kinds_are_the_preprocessing_kinds() -> None:
    frame = odd_frame()
    frame["code"] = np.array([1 + 2j, 3j, 0j, 1 + 0j])  # complex: labels, not numbers
    assert {name: c["kind"] for name, c in inputs(frame).items()} == column_kinds(frame)
    assert column_kinds(frame) == {
        "flag": "boolean",
        "day": "datetime",
        "seen": "datetime",
        "wait": "numeric",
        "pause": "numeric",
        "amount": "numeric",
        "price": "numeric",
        "code": "categorical",
    }


def test_object_bools_are_boolean_without_a_range() -> None:
    flag = inputs(odd_frame())["flag"]
    assert flag == {
        "name": "flag",
        "dtype": "object",
        "nullable": True,
        "used": True,
        "kind": "boolean",
    }


def test_object_dates_and_datetimes_are_datetime_with_a_utc_range() -> None:
    columns = inputs(odd_frame())
    assert columns["day"]["kind"] == "datetime"
    assert (columns["day"]["min"], columns["day"]["max"]) == (
        "2020-01-15 00:00:00",
        "2022-12-31 00:00:00",
    )
    # aware values in UTC (12:30+02:00 is 10:30 UTC); a bare date counts as midnight UTC
    assert (columns["seen"]["min"], columns["seen"]["max"]) == (
        "2019-01-01 00:00:00",
        "2021-01-01 00:00:00",
    )
    assert columns["seen"]["dtype"] == "object"
    assert "levels" not in columns["day"]


def test_timedeltas_are_numeric_seconds() -> None:
    columns = inputs(odd_frame())
    wait, pause = columns["wait"], columns["pause"]
    assert (wait["kind"], wait["min"], wait["max"], wait["unit"]) == (
        "numeric",
        30.0,
        3600.0,
        "seconds",
    )
    assert wait["dtype"].startswith("timedelta64")
    assert (pause["kind"], pause["min"], pause["max"], pause["unit"]) == (
        "numeric",
        0.0,
        120.0,
        "seconds",
    )
    assert "unit" not in columns["amount"]


def test_object_numbers_are_numeric_with_a_range() -> None:
    columns = inputs(odd_frame())
    amount, price = columns["amount"], columns["price"]
    assert (amount["kind"], amount["min"], amount["max"]) == ("numeric", -4.0, 2.5)
    assert (price["kind"], price["min"], price["max"]) == ("numeric", 0.5, 12.0)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([None, None], dtype=object),
        pd.Series([np.nan, np.nan]),
        pd.Series([pd.NaT, pd.NaT], dtype="timedelta64[ns]"),
        pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]"),
        pd.Series([], dtype=object),
    ],
    ids=["object", "float", "timedelta", "datetime", "empty"],
)
def test_columns_without_values_have_no_range(column: pd.Series) -> None:
    entry = inputs(pd.DataFrame({"x": column}))["x"]
    assert not {"min", "max"} & set(entry)
    assert entry["nullable"] is (len(column) > 0)


def test_many_levels_are_truncated_and_odd_names_kept() -> None:
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(MAX_LEVELS + 1)]})
    frame[0] = range(len(frame))  # a non-string column name
    entries = inputs(frame)
    assert entries["id"] == {
        "name": "id",
        "dtype": str(frame["id"].dtype),
        "nullable": False,
        "used": True,
        "kind": "categorical",
        "levels_truncated": True,
    }
    assert (entries["0"]["min"], entries["0"]["max"]) == (0.0, float(MAX_LEVELS))


def test_a_model_on_odd_columns_converts_to_onnx_with_the_same_probabilities() -> None:
    rng = np.random.default_rng(7)
    n = 120
    frame = pd.DataFrame(
        {
            "flag": pd.Series(rng.random(n) < 0.5, dtype=object),
            "day": pd.Series(
                [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
                dtype=object,
            ),
            "wait": pd.to_timedelta(rng.integers(0, 7200, n), unit="s"),
        }
    )
    y = (frame["wait"].dt.total_seconds() > 3600).astype(int) ^ (rng.random(n) < 0.1)
    pipe = Pipeline(
        [("features", build_preprocessor(FeatureSpec(), frame)), ("model", LogisticRegression())]
    ).fit(frame, y)
    sig = signature_of(frame, target="y", task="binary", labels=[0, 1], excluded=[])
    onnx = OnnxModel(convert_to_onnx(pipe, sig), sig)
    np.testing.assert_allclose(
        onnx.predict_proba(frame), pipe.predict_proba(frame), rtol=0, atol=1e-5
    )
