from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.data.synthetic import (
    CHURN_COLUMNS,
    CONTRACTS,
    PAYMENT_METHODS,
    PLANS,
    REGIONS,
    _customer_ids,
    make_churn,
)
from modelyard.exceptions import ValidationError

NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "age", "num_products"]
LEVELS = {
    "contract": CONTRACTS,
    "payment_method": PAYMENT_METHODS,
    "region": REGIONS,
    "plan": PLANS,
}


def _design(frame: pd.DataFrame) -> np.ndarray:
    columns = [frame[NUMERIC].fillna(65.0).to_numpy(dtype=float)]
    for column, levels in LEVELS.items():
        columns += [(frame[column] == level).to_numpy(dtype=float)[:, None] for level in levels[1:]]
    columns.append(frame[["paperless_billing"]].to_numpy(dtype=float))
    return np.hstack(columns)


def _model() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def test_same_arguments_give_the_same_table() -> None:
    first = make_churn(500, seed=3, drift=0.4)
    pd.testing.assert_frame_equal(first, make_churn(500, seed=3, drift=0.4))
    assert not first.equals(make_churn(500, seed=4, drift=0.4))


def test_columns_and_dtypes() -> None:
    frame = make_churn(2000, seed=0)
    assert tuple(frame.columns) == CHURN_COLUMNS
    assert len(frame) == 2000
    for column in ("customer_id", "name", "email", "phone", "region", "plan", "contract"):
        assert pd.api.types.is_string_dtype(frame[column]), column
    for column in ("age", "tenure_months", "support_calls", "num_products", "churned"):
        assert frame[column].dtype == np.int64, column
    for column in ("monthly_charges", "total_charges"):
        assert frame[column].dtype == np.float64, column
    assert frame["paperless_billing"].dtype == bool
    assert frame["signup_at"].dtype == "datetime64[ns]"
    assert pa.Table.from_pandas(frame).num_rows == 2000  # Arrow-ready for ingestion


def test_values_are_plausible_and_fake() -> None:
    frame = make_churn(5000, seed=1)
    assert frame["customer_id"].is_unique
    assert frame["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert frame["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.(com|net|org)").all()
    assert frame["phone"].str.fullmatch(r"\+1-\d{3}-555-01\d\d").all()
    assert frame["name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").all()
    assert set(frame["region"]) == {"north", "south", "east", "west", "central"}
    assert set(frame["plan"]) == {"basic", "standard", "premium"}
    assert set(frame["contract"]) == {"monthly", "annual", "two_year"}
    assert frame["age"].between(18, 90).all()
    assert frame["tenure_months"].between(0, 72).all()
    assert frame["num_products"].between(1, 6).all()
    assert (frame["support_calls"] >= 0).all()
    assert set(frame["churned"]) == {0, 1}
    start, end = frame["signup_at"].min(), frame["signup_at"].max()
    assert start >= pd.Timestamp("2024-01-01")
    assert end < pd.Timestamp("2026-01-01")
    assert end - start > pd.Timedelta(days=700)


def test_total_charges_track_tenure_times_monthly_with_some_nulls() -> None:
    frame = make_churn(20_000, seed=2)
    for column, low, high in (("total_charges", 0.01, 0.04), ("monthly_charges", 0.003, 0.02)):
        share = frame[column].isna().mean()
        assert low < share < high, (column, share)
    known = frame.dropna(subset=["total_charges", "monthly_charges"])
    known = known[known["tenure_months"] > 0]
    ratio = known["total_charges"] / (known["tenure_months"] * known["monthly_charges"])
    assert ratio.between(0.85, 1.15).all()
    assert 0.98 < ratio.median() < 1.02


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_churn_rate_is_in_range(seed: int) -> None:
    assert 0.20 <= make_churn(5000, seed=seed)["churned"].mean() <= 0.30


def test_the_relation_is_learnable() -> None:
    frame = make_churn(6000, seed=5)
    scores = cross_val_score(_model(), _design(frame), frame["churned"], cv=3, scoring="roc_auc")
    assert scores.mean() > 0.75
    assert scores.mean() < 0.95  # not trivially separable either


def test_drift_shifts_the_means_monotonically() -> None:
    frames = [make_churn(20_000, seed=7, drift=d) for d in (0.0, 0.5, 1.0)]
    for column, min_step in (("monthly_charges", 3.0), ("age", 1.0), ("support_calls", 0.2)):
        means = [f[column].mean() for f in frames]
        assert means[0] + min_step < means[1] < means[2] - min_step, (column, means)
    tenure = [f["tenure_months"].mean() for f in frames]
    assert tenure[0] > tenure[1] > tenure[2]
    west = [(f["region"] == "west").mean() for f in frames]
    assert west[0] < west[1] < west[2]


def test_drift_changes_the_feature_target_relation() -> None:
    train = make_churn(8000, seed=11)
    model = _model().fit(_design(train), train["churned"])  # type: ignore[attr-defined]

    def auc(drift: float) -> float:
        test = make_churn(8000, seed=12, drift=drift)
        return float(roc_auc_score(test["churned"], model.predict_proba(_design(test))[:, 1]))

    reference, halfway, drifted = auc(0.0), auc(0.5), auc(1.0)
    assert reference > halfway > drifted
    assert reference - drifted > 0.05


def test_drift_zero_is_the_default_reference() -> None:
    pd.testing.assert_frame_equal(make_churn(300, seed=1), make_churn(300, seed=1, drift=0))


def test_start_moves_the_signups() -> None:
    frame = make_churn(1000, seed=0, start="2020-06-15")
    assert frame["signup_at"].min() >= pd.Timestamp("2020-06-15")
    assert frame["signup_at"].max() < pd.Timestamp("2022-06-16")


def test_one_row_and_wide_ids() -> None:
    assert make_churn(1)["customer_id"].tolist() == ["C000001"]
    # ids widen past a million rows instead of colliding (checked on the id helper alone)
    assert _customer_ids(1_234_567)[-1].as_py() == "C1234567"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": -5}, "n_rows"),
        ({"n_rows": 50_000_001}, "n_rows"),
        ({"n_rows": 10.0}, "n_rows"),
        ({"n_rows": True}, "n_rows"),
        ({"n_rows": "100"}, "n_rows"),
        ({"drift": -0.01}, "drift"),
        ({"drift": 1.5}, "drift"),
        ({"drift": float("nan")}, "drift"),
        ({"drift": "0.5"}, "drift"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"start": "9999-01-01"}, "start"),
        ({"start": None}, "start"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_churn(**kwargs)  # type: ignore[arg-type]
