"""build_preprocessor: each option does what the sklearn transformer does, defaults by kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)

from modelyard.features import (
    Bucketize,
    ColumnSpec,
    FeatureSpec,
    Interaction,
    build_preprocessor,
    feature_names_out,
)


def fit_out(spec: FeatureSpec, frame: pd.DataFrame, y: Any = None) -> tuple[Any, np.ndarray]:
    pre = build_preprocessor(spec, frame)
    out = pre.fit_transform(frame, y)
    return pre, out


def only(frame: pd.DataFrame, name: str, **options: Any) -> FeatureSpec:
    """A spec that keeps just ``name`` with ``options`` (no missing indicator)."""
    options.setdefault("missing_indicator", False)
    others = tuple(c for c in frame.columns if c != name)
    return FeatureSpec(columns={name: ColumnSpec(**options)}, drop=others)


NUMBERS = pd.DataFrame({"x": [1.0, np.nan, 4.0, 10.0, 3.0, np.nan, 100.0, 7.0]})
RAW = NUMBERS[["x"]].to_numpy()


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_impute_matches_simple_imputer(strategy: str) -> None:
    _, out = fit_out(only(NUMBERS, "x", impute=strategy, scale="none"), NUMBERS)
    expected = SimpleImputer(strategy=strategy).fit_transform(RAW)
    np.testing.assert_array_equal(out, expected)


def test_impute_constant_writes_the_fill_value() -> None:
    _, out = fit_out(only(NUMBERS, "x", impute="constant", fill_value=-1, scale="none"), NUMBERS)
    assert out[:, 0].tolist() == [1.0, -1.0, 4.0, 10.0, 3.0, -1.0, 100.0, 7.0]


@pytest.mark.parametrize(
    ("scale", "scaler"),
    [
        ("standard", StandardScaler),
        ("minmax", MinMaxScaler),
        ("maxabs", MaxAbsScaler),
        ("robust", RobustScaler),
    ],
)
def test_scale_matches_the_sklearn_scaler(scale: str, scaler: type) -> None:
    _, out = fit_out(only(NUMBERS, "x", scale=scale), NUMBERS)
    imputed = SimpleImputer(strategy="median").fit_transform(RAW)
    np.testing.assert_allclose(out, scaler().fit_transform(imputed))


def test_log1p_applies_before_imputing_and_scaling() -> None:
    _, out = fit_out(only(NUMBERS, "x", log1p=True, impute="mean", scale="robust"), NUMBERS)
    logged = SimpleImputer(strategy="mean").fit_transform(np.log1p(RAW))
    np.testing.assert_allclose(out, RobustScaler().fit_transform(logged))


def test_bucketize_matches_kbins() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    for bucketize, encode in [
        (Bucketize(4, "quantile"), "ordinal"),
        (Bucketize(3, "uniform", "onehot"), "onehot-dense"),
    ]:
        pre, out = fit_out(only(frame, "x", bucketize=bucketize), frame)
        kbins = KBinsDiscretizer(
            n_bins=bucketize.bins,
            strategy=bucketize.strategy,
            encode=encode,
            quantile_method="averaged_inverted_cdf",
        )
        np.testing.assert_array_equal(out, kbins.fit_transform(frame[["x"]].to_numpy()))
    assert feature_names_out(pre) == [
        "numeric_bins__x_0.0",
        "numeric_bins__x_1.0",
        "numeric_bins__x_2.0",
    ]


CITIES = pd.DataFrame(
    {"city": pd.Series(["oslo"] * 6 + ["rome"] * 3 + ["lima", None], dtype="str")}
)


def test_default_categorical_is_most_frequent_then_onehot() -> None:
    pre, out = fit_out(only(CITIES, "city"), CITIES)
    imputed = SimpleImputer(strategy="most_frequent").fit_transform(
        CITIES.astype(object).where(CITIES.notna(), np.nan)
    )
    expected = OneHotEncoder(sparse_output=False).fit_transform(imputed)
    np.testing.assert_array_equal(out, expected)
    assert feature_names_out(pre) == [
        "categorical__city_lima",
        "categorical__city_oslo",
        "categorical__city_rome",
    ]


def test_onehot_min_frequency_groups_rare_levels() -> None:
    pre, _out = fit_out(only(CITIES, "city", min_frequency=3), CITIES)
    assert feature_names_out(pre) == [
        "categorical_rare__city_oslo",
        "categorical_rare__city_rome",
        "categorical_rare__city_infrequent_sklearn",
    ]
    unseen = pre.transform(pd.DataFrame({"city": ["atlantis", "rome"]}))
    assert unseen.tolist() == [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]  # unknown joins the rare


def test_onehot_ignore_encodes_unknown_as_zeros() -> None:
    pre, _ = fit_out(only(CITIES, "city", handle_unknown="ignore"), CITIES)
    assert pre.transform(pd.DataFrame({"city": ["atlantis"]})).tolist() == [[0.0, 0.0, 0.0]]


def test_ordinal_uses_the_declared_order_and_minus_one_for_unknown() -> None:
    frame = pd.DataFrame({"plan": ["premium", "basic", "standard", "basic"]})
    levels = ["basic", "standard", "premium"]
    pre, out = fit_out(only(frame, "plan", encode="ordinal", categories=levels), frame)
    expected = OrdinalEncoder(categories=[levels]).fit_transform(frame[["plan"]])
    np.testing.assert_array_equal(out, expected)
    assert out[:, 0].tolist() == [2.0, 0.0, 1.0, 0.0]
    assert pre.transform(pd.DataFrame({"plan": ["gold", None]}))[:, 0].tolist() == [-1.0, 0.0]


def test_categories_of_numbers_compare_as_text() -> None:
    frame = pd.DataFrame({"grade": pd.Series([3, 1, 2, 1], dtype="category")})
    _, out = fit_out(only(frame, "grade", encode="ordinal", categories=[1, 2, 3]), frame)
    assert out[:, 0].tolist() == [2.0, 0.0, 1.0, 0.0]


def test_target_encoding_is_cross_fitted(churn: Callable[..., pd.DataFrame]) -> None:
    frame = churn()
    X, y = frame[["region"]], frame["churn"]
    spec = only(X, "region", encode="target")
    pre = build_preprocessor(spec, X)
    train = pre.fit_transform(X, y)
    refit = build_preprocessor(spec, X).fit(X, y).transform(X)
    assert not np.allclose(train, refit)  # training rows are encoded out-of-fold
    # after fit, transform uses encodings learned on all rows: one value per level
    assert len(np.unique(refit)) == 4
    assert len(np.unique(train)) > 4
    unseen = pre.transform(pd.DataFrame({"region": ["mars"]}))
    assert unseen[0, 0] == pytest.approx(y.mean())  # an unknown level gets the target mean
    np.testing.assert_array_equal(build_preprocessor(spec, X).fit_transform(X, y), train)


def test_defaults_by_kind(churn: Callable[..., pd.DataFrame]) -> None:
    frame = churn().drop(columns=["customer_id", "name", "churn"])
    pre, out = fit_out(FeatureSpec(), frame)
    names = feature_names_out(pre)
    assert names == [
        "numeric__monthly_charges",
        "numeric__tenure_months",
        "categorical__region_east",
        "categorical__region_north",
        "categorical__region_south",
        "categorical__region_west",
        "categorical__plan_basic",
        "categorical__plan_premium",
        "categorical__plan_standard",
        "boolean__paperless",
        "boolean__senior",
        "datetime__signup_at_epoch_days",
        "datetime__signup_at_month",
        "datetime__signup_at_dayofweek",
        "missing__missingindicator_monthly_charges",
        "missing__missingindicator_tenure_months",
        "missing__missingindicator_paperless",
    ]
    assert out.dtype == np.float64
    assert not np.isnan(out).any()
    numeric = out[:, :2]
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-12)  # standard scaled
    charges = frame[["monthly_charges"]].to_numpy()
    expected = StandardScaler().fit_transform(
        SimpleImputer(strategy="median").fit_transform(charges)
    )
    np.testing.assert_allclose(numeric[:, [0]], expected)
    assert set(np.unique(out[:, 9:11])) == {0.0, 1.0}  # booleans become 0/1
    np.testing.assert_allclose(out[:, 11:14].mean(axis=0), 0.0, atol=1e-9)  # datetime parts scaled
    flags = out[:, 14]
    assert flags.sum() == frame["monthly_charges"].isna().sum()


def test_type_defaults_apply_to_every_column_of_the_kind(
    churn: Callable[..., pd.DataFrame],
) -> None:
    frame = churn()[["monthly_charges", "tenure_months", "region"]]
    spec = FeatureSpec(
        defaults={"numeric": ColumnSpec(scale="minmax", missing_indicator=False)},
        columns={"tenure_months": ColumnSpec(scale="none")},
    )
    pre, out = fit_out(spec, frame)
    assert feature_names_out(pre)[:2] == [
        "numeric_minmax__monthly_charges",
        "numeric_unscaled__tenure_months",
    ]
    assert out[:, 0].min() == 0.0
    assert out[:, 0].max() == pytest.approx(1.0)
    assert out[:, 1].max() == frame["tenure_months"].max()
    assert not any(name.startswith("missing__") for name in feature_names_out(pre))


def test_missing_indicator_can_be_forced_on_and_off(churn: Callable[..., pd.DataFrame]) -> None:
    frame = churn()[["monthly_charges", "senior", "region"]]
    spec = FeatureSpec(
        columns={
            "monthly_charges": ColumnSpec(missing_indicator=False),
            "senior": ColumnSpec(missing_indicator=True),  # no nulls, flag anyway
        }
    )
    pre, out = fit_out(spec, frame)
    flags = [name for name in feature_names_out(pre) if name.startswith("missing__")]
    assert flags == ["missing__missingindicator_senior"]
    assert out[:, -1].sum() == 0.0
    served = pre.transform(
        pd.DataFrame({"monthly_charges": [1.0], "senior": [None], "region": ["x"]})
    )
    assert served[0, -1] == 1.0


def test_interactions_multiply_the_imputed_scaled_columns() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"a": rng.normal(size=50), "b": rng.gamma(2, size=50), "c": rng.normal(size=50)}
    )
    frame.loc[3, "a"] = np.nan
    spec = FeatureSpec(
        columns={"b": ColumnSpec(log1p=True, scale="robust")},
        interactions=(
            Interaction(("a", "b"), interaction_only=True),
            Interaction(("a", "c"), degree=3),
        ),
    )
    pre, out = fit_out(spec, frame)
    names = feature_names_out(pre)
    assert "interaction_1__a b" in names
    assert names[names.index("interaction_2__a^2") : names.index("interaction_2__c^3") + 1] == [
        "interaction_2__a^2", "interaction_2__a c", "interaction_2__c^2",
        "interaction_2__a^3", "interaction_2__a^2 c", "interaction_2__a c^2", "interaction_2__c^3",
    ]  # fmt: skip
    a = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(frame[["a"]]))
    b = RobustScaler().fit_transform(np.log1p(frame[["b"]].to_numpy()))
    np.testing.assert_allclose(out[:, names.index("interaction_1__a b")], (a * b)[:, 0])
    c = StandardScaler().fit_transform(frame[["c"]])
    poly = PolynomialFeatures((2, 3), include_bias=False).fit_transform(np.hstack([a, c]))
    start = names.index("interaction_2__a^2")
    np.testing.assert_allclose(out[:, start : start + 7], poly)


def test_all_null_column_with_constant_impute_is_kept() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "empty": [np.nan, np.nan]})
    spec = FeatureSpec(columns={"empty": ColumnSpec(impute="constant", fill_value=0, scale="none")})
    pre, out = fit_out(spec, frame)
    assert "numeric_constant_fill_unscaled__empty" in feature_names_out(pre)
    assert out[
        :, feature_names_out(pre).index("numeric_constant_fill_unscaled__empty")
    ].tolist() == [0.0, 0.0]


def test_boolean_and_categorical_constant_fill() -> None:
    frame = pd.DataFrame(
        {
            "flag": pd.array([True, None, True], dtype="boolean"),
            "color": pd.Series(["red", None, "red"], dtype=object),
        }
    )
    spec = FeatureSpec(
        defaults={
            "boolean": ColumnSpec(missing_indicator=False),
            "categorical": ColumnSpec(missing_indicator=False),
        },
        columns={
            "flag": ColumnSpec(impute="constant", fill_value=False),
            "color": ColumnSpec(impute="constant", fill_value="unknown"),
        },
    )
    pre, out = fit_out(spec, frame)
    assert feature_names_out(pre) == [
        "boolean_constant_fill__flag",
        "categorical_constant_fill__color_red",
        "categorical_constant_fill__color_unknown",
    ]
    assert out.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]


def test_a_bucketized_column_enters_interactions_scaled_not_binned() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"a": rng.normal(5, 2, 80), "b": rng.normal(size=80)})
    spec = FeatureSpec(
        columns={"a": ColumnSpec(bucketize=Bucketize(4))},
        interactions=(Interaction(("a", "b"), interaction_only=True),),
    )
    pre, out = fit_out(spec, frame)
    assert feature_names_out(pre)[-1] == "interaction_1__a b"
    a = StandardScaler().fit_transform(frame[["a"]])
    b = StandardScaler().fit_transform(frame[["b"]])
    np.testing.assert_allclose(out[:, -1], (a * b)[:, 0])
