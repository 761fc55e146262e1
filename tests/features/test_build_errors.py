"""build_preprocessor refuses, before fitting, what would fail or mislead later."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.exceptions import ValidationError
from modelyard.features import (
    ColumnSpec,
    FeatureSpec,
    Interaction,
    build_preprocessor,
    describe_preprocessor,
    feature_names_out,
)

FRAME = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "age": [30.0, 40.0, np.nan],
        "city": ["x", "y", "x"],
        "y": [0, 1, 0],
    }
)


def refuse(spec: FeatureSpec, frame: pd.DataFrame = FRAME, **kwargs: object) -> str:
    with pytest.raises(ValidationError) as info:
        build_preprocessor(spec, frame, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_unknown_spec_column_lists_the_available_ones() -> None:
    message = refuse(FeatureSpec(columns={"agee": ColumnSpec(scale="robust")}), target="y")
    assert message == "unknown column 'agee' in columns; available columns: 'id', 'age', 'city'"
    assert "in drop" in refuse(FeatureSpec(drop=("nope",)))
    assert "in include" in refuse(FeatureSpec(include=("nope",)))
    assert "in interactions" in refuse(FeatureSpec(interactions=(Interaction(("age", "nope")),)))


def test_many_available_columns_are_shortened() -> None:
    wide = pd.DataFrame({f"c{i}": [1.0] for i in range(100)})
    message = refuse(FeatureSpec(drop=("nope",)), wide)
    assert message.endswith("'c19' and 80 more")


@pytest.mark.parametrize(
    ("column", "options", "needle"),
    [
        ("age", {"encode": "onehot"}, "option 'encode' does not apply to numeric column 'age'"),
        ("city", {"log1p": True}, "option 'log1p' does not apply to categorical column 'city'"),
        ("city", {"impute": "median"}, "impute: median does not apply to categorical column"),
        ("age", {"impute": "constant", "fill_value": "n/a"}, "must be a number"),
    ],
)
def test_options_that_do_not_fit_the_kind(
    column: str, options: dict[str, object], needle: str
) -> None:
    assert needle in refuse(FeatureSpec(columns={column: ColumnSpec(**options)}))  # type: ignore[arg-type]


def test_all_null_column_is_named_with_the_fixes() -> None:
    frame = FRAME.assign(empty=[None, None, None])
    message = refuse(FeatureSpec(), frame)
    assert "column 'empty' has no values" in message
    assert "drop it (drop: [empty])" in message
    assert "impute: constant" in message
    build_preprocessor(FeatureSpec(drop=("empty",)), frame)  # the fixes work
    build_preprocessor(FeatureSpec(columns={"empty": ColumnSpec(drop=True)}), frame)
    build_preprocessor(FeatureSpec(columns={"empty": ColumnSpec(impute="constant")}), frame)


def test_include_and_drop_together_is_refused() -> None:
    with pytest.raises(ValidationError, match="in both include and drop"):
        FeatureSpec.from_dict({"include": ["id"], "drop": ["id"]})


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (FRAME.iloc[0:0], "the training frame has no rows"),
        (pd.DataFrame(), "the training frame has no rows"),
        (FRAME.to_numpy(), "needs the training features as a pandas DataFrame, not ndarray"),
        (pd.DataFrame({0: [1.0], "a": [2.0]}), "column names must be strings, got '0'"),
        (pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), "repeated column names: 'a'"),
    ],
)
def test_unusable_frames_are_refused(frame: object, needle: str) -> None:
    assert needle in refuse(FeatureSpec(), frame)  # type: ignore[arg-type]


def test_no_feature_left_is_refused() -> None:
    message = refuse(FeatureSpec(drop=("age", "city")), target="y", exclude=["id"])
    assert message.startswith("no feature columns left")


def test_the_target_is_never_a_feature() -> None:
    pre = build_preprocessor(FeatureSpec(), FRAME, target="y", exclude=["id"])
    assert [cols for _, _, cols in pre.transformers] == [["age"], ["city"], ["age"]]
    assert "which is the target" in refuse(FeatureSpec(columns={"y": ColumnSpec()}), target="y")


def test_excluded_columns_are_left_out_unless_included() -> None:
    pre = build_preprocessor(FeatureSpec(), FRAME, target="y", exclude=["id", "not-there"])
    assert all("id" not in cols for _, _, cols in pre.transformers)
    pre = build_preprocessor(FeatureSpec(include=("id",)), FRAME, target="y", exclude=["id"])
    assert ["id", "city"] in [cols for _, _, cols in pre.transformers]
    message = refuse(FeatureSpec(columns={"id": ColumnSpec(encode="target")}), exclude=["id"])
    assert "'id' has options in the spec but is excluded" in message
    assert "list it under include" in message


def test_interactions_need_numeric_feature_columns() -> None:
    assert "numeric columns only; 'city' is categorical" in refuse(
        FeatureSpec(interactions=(Interaction(("age", "city")),))
    )
    spec = FeatureSpec(
        defaults={"numeric": ColumnSpec(drop=True)}, interactions=(Interaction(("age",)),)
    )
    assert "'age' is dropped" in refuse(spec)


def test_categories_must_cover_the_training_values() -> None:
    spec = FeatureSpec(columns={"city": ColumnSpec(encode="ordinal", categories=("x",))})
    message = refuse(spec)
    assert "column 'city' has values that are not in its categories: 'y'" in message


def test_feature_names_need_a_fitted_preprocessor() -> None:
    pre = build_preprocessor(FeatureSpec(), FRAME, target="y")
    with pytest.raises(ValidationError, match="the preprocessor is not fitted"):
        feature_names_out(pre)
    described = describe_preprocessor(pre)  # works before fitting
    assert [entry["name"] for entry in described] == ["categorical", "numeric", "missing"]
    assert described[1] == {
        "name": "numeric",
        "columns": ["age"],
        "steps": [
            "AsFloat()",
            "SimpleImputer(keep_empty_features=True, strategy='median')",
            "StandardScaler()",
        ],
    }


def test_log1p_on_negative_values_fails_at_fit_naming_the_column(
    churn: Callable[..., pd.DataFrame],
) -> None:
    frame = churn()[["monthly_charges"]].assign(balance=lambda f: f["monthly_charges"] - 50)
    pre = build_preprocessor(FeatureSpec(columns={"balance": ColumnSpec(log1p=True)}), frame)
    with pytest.raises(ValidationError, match=r"log1p: column 'balance' has \d+ negative value"):
        pre.fit(frame)


def test_describe_and_names_want_the_column_transformer() -> None:
    with pytest.raises(ValidationError, match="expected the ColumnTransformer"):
        describe_preprocessor(Pipeline([("scale", StandardScaler())]))
    with pytest.raises(ValidationError, match="not LogisticRegression"):
        feature_names_out(LogisticRegression())


def test_a_wide_frame_compiles_quickly() -> None:
    rng = np.random.default_rng(5)
    wide = pd.DataFrame(rng.normal(size=(20, 2000)), columns=[f"c{i}" for i in range(2000)])
    started = time.perf_counter()
    pre = build_preprocessor(FeatureSpec(), wide)
    assert len(pre.transformers) == 1  # one shared transformer, not 2000
    assert time.perf_counter() - started < 2.0
