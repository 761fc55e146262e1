"""The compiled preprocessor as the first stage of a model pipeline: train, serve, persist."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from modelyard.features import FeatureSpec, build_preprocessor, feature_names_out

SPEC = FeatureSpec.from_yaml(
    """
features:
  columns:
    monthly_charges: {impute: mean, missing_indicator: true, log1p: true, scale: robust}
    tenure_months: {bucketize: {bins: 5, strategy: quantile}}
    region: {encode: target}
    plan: {encode: ordinal, categories: [basic, standard, premium]}
  interactions:
    - {columns: [tenure_months, monthly_charges], degree: 2, interaction_only: true}
  drop: [name]
"""
)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns="churn"), frame["churn"]


def model_pipeline(frame: pd.DataFrame, model: Any = None) -> Pipeline:
    pre = build_preprocessor(SPEC, frame, target="churn", exclude=["customer_id"])
    model = LogisticRegression(max_iter=1000) if model is None else model
    return Pipeline([("features", pre), ("model", model)])


def test_logistic_regression_fits_and_predicts(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    pipe = model_pipeline(X).fit(X, y)
    assert pipe.score(X, y) > 0.6
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    assert len(feature_names_out(pipe)) == pipe[-1].coef_.shape[1]


def test_serving_rows_with_unknown_levels_extra_and_reordered_columns(
    churn: Callable[..., pd.DataFrame],
) -> None:
    X, y = split(churn())
    pipe = model_pipeline(X).fit(X, y)
    served = X.head(3).copy()
    served["region"] = ["mars", None, "north"]
    served["plan"] = pd.Series(["gold", "basic", None], index=served.index, dtype=object)
    served["monthly_charges"] = [np.nan, 10.0, 0.0]
    served["debug"] = "extra column"
    served = served[served.columns[::-1]]
    assert pipe.predict(served).shape == (3,)
    missing_column = X.drop(columns=["plan"]).head(1)
    with pytest.raises(ValueError, match="plan"):
        pipe.predict(missing_column)


def test_clone_and_pickle_give_identical_output(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    pipe = model_pipeline(X).fit(X, y)
    expected = pipe[0].transform(X)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again[0].transform(X), expected)
    np.testing.assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    refit = clone(pipe).fit(X, y)
    np.testing.assert_array_equal(refit[0].transform(X), expected)
    np.testing.assert_array_equal(refit.predict_proba(X), pipe.predict_proba(X))
    assert feature_names_out(again) == feature_names_out(pipe)


def test_fitting_is_deterministic(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    first = model_pipeline(X)[0].fit_transform(X, y)
    second = model_pipeline(X)[0].fit_transform(X, y)
    np.testing.assert_array_equal(first, second)


def test_cross_validation_clones_and_refits(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    scores = cross_val_score(model_pipeline(X), X, y, cv=3)
    assert scores.shape == (3,)
    assert (scores > 0.5).all()


def test_pandas_output(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    pre = model_pipeline(X)[0].set_output(transform="pandas")
    out = pre.fit_transform(X, y)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == feature_names_out(pre)
    assert all(
        pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in out.dtypes
    )


def _families() -> list[Any]:
    lightgbm = pytest.importorskip("lightgbm")
    xgboost = pytest.importorskip("xgboost")
    return [
        RandomForestClassifier(n_estimators=20, random_state=0),
        HistGradientBoostingClassifier(max_iter=20, random_state=0),
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
        lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, random_state=0, n_jobs=1),
        xgboost.XGBClassifier(n_estimators=20, random_state=0, n_jobs=1),
    ]


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_every_model_family_takes_the_output(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    for model in _families():
        pipe = model_pipeline(X, model).fit(X, y)
        assert pipe.predict(X.head(5)).shape == (5,), type(model).__name__


HOSTILE = ["naïve price €", 'say "hi"', "it's a 'quote'", "列 名", "a__b", " ", "x\ny", "a,b;c"]


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_hostile_column_names() -> None:
    rng = np.random.default_rng(3)
    n = 120
    frame = pd.DataFrame({name: rng.normal(size=n) for name in HOSTILE[:4]})
    for name in HOSTILE[4:]:
        frame[name] = rng.choice(["p q", "r__s", "ü"], n)
    spec = FeatureSpec(
        columns={
            HOSTILE[0]: {"log1p": False, "scale": "robust"},
            HOSTILE[4]: {"encode": "ordinal"},
        },  # type: ignore[dict-item]
        interactions=[{"columns": HOSTILE[1:3]}],  # type: ignore[list-item]
    )
    spec = FeatureSpec.from_yaml(spec.to_yaml())
    y = rng.integers(0, 2, n)
    pipe = Pipeline(
        [("features", build_preprocessor(spec, frame)), ("model", LogisticRegression())]
    )
    pipe.fit(frame, y)
    names = feature_names_out(pipe)
    assert "numeric_robust__naïve price €" in names
    assert "interaction_1__say \"hi\" it's a 'quote'" in names
    assert "categorical__x\ny_r__s" in names
    lightgbm = pytest.importorskip("lightgbm")
    boosted = Pipeline(
        [
            ("features", clone(pipe[0])),
            ("model", lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1)),
        ]
    )
    assert boosted.fit(frame, y).predict(frame).shape == (n,)


def test_huge_cardinality_is_capped() -> None:
    rng = np.random.default_rng(4)
    n = 50_000
    frame = pd.DataFrame(
        {
            "user_agent": pd.Series(
                [f"agent-{i}" for i in rng.integers(0, 20_000, n)], dtype="str"
            ),
            "x": rng.normal(size=n),
        }
    )
    started = time.perf_counter()
    pre = build_preprocessor(FeatureSpec(), frame)
    out = pre.fit_transform(frame)
    elapsed = time.perf_counter() - started
    names = feature_names_out(pre)
    assert out.shape == (n, 51)  # 49 frequent levels + "infrequent" + x
    assert "categorical__user_agent_infrequent_sklearn" in names
    assert pre.transform(pd.DataFrame({"user_agent": ["never seen"], "x": [0.0]}))[0, 49] == 1.0
    assert elapsed < 5.0, f"capping 20k levels took {elapsed:.1f}s"


def test_nullable_and_string_dtypes_in_serving_rows(churn: Callable[..., pd.DataFrame]) -> None:
    X, y = split(churn())
    pipe = model_pipeline(X).fit(X, y)
    served = X.head(4).astype({"tenure_months": "float64", "region": object, "plan": object})
    served["paperless"] = served["paperless"].astype(object)
    np.testing.assert_allclose(pipe[0].transform(served), pipe[0].transform(X.head(4)))


def test_skops_round_trip_names_only_our_transformers(churn: Callable[..., pd.DataFrame]) -> None:
    sio = pytest.importorskip("skops.io")
    X, y = split(churn())
    pipe = model_pipeline(X).fit(X, y)
    blob = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=blob)
    # TargetFolds only appears where scikit-learn (>= 1.9) takes a splitter as cv
    assert {t for t in untrusted if not t.startswith("numpy.")} <= {
        f"modelyard.features.transformers.{name}"
        for name in ("AsFloat", "AsObject", "DatetimeFeatures", "Log1p", "TargetFolds")
    }
    loaded = sio.loads(blob, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
