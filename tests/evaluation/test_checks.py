"""Train/test checks: planted leaks get flagged, planted duplicates counted, shifts found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from modelyard.evaluation import evaluate
from modelyard.evaluation.checks import duplicates, shift
from modelyard.evaluation.leakage import leakage
from tests.evaluation import cases


def test_the_full_evaluation_has_clean_checks_for_honest_data() -> None:
    ev = cases.evaluated("binary")
    checks = ev.checks
    assert "note" not in checks
    assert {item["feature"] for item in checks["leakage"]} == set(cases.binary().X_test.columns)
    assert not any(item["flagged"] for item in checks["leakage"])
    assert checks["leakage"][0]["feature"] == "income"  # the strongest real signal
    assert checks["duplicates"] == {"shared_rows": 0, "test_rows": 300, "fraction": 0.0}
    assert not any(item["drifted"] for item in checks["shift"])
    assert ev.warnings == []


def test_a_planted_numeric_and_categorical_leak_is_flagged() -> None:
    rng = np.random.default_rng(0)
    X = cases.frame(400, 11)
    y = rng.integers(0, 2, 400)
    X["copy"] = y * 3.0 + rng.normal(0, 0.05, 400)  # the target, barely disguised
    X["status"] = np.where(y == 1, "closed", "open")
    found = {item["feature"]: item for item in leakage(X, y, task="binary", seed=0)}
    assert found["copy"]["flagged"]
    assert found["copy"]["score"] == pytest.approx(1.0)
    assert found["status"]["flagged"]
    assert found["status"]["metric"] == "roc_auc"
    assert not found["income"]["flagged"]
    assert found["income"]["score"] < 0.7


def test_leakage_warns_through_evaluate() -> None:
    case = cases.binary("linear")
    X_train, X_test = case.X_train.copy(), case.X_test.copy()
    X_train["outcome_code"], X_test["outcome_code"] = case.y_train * 1.0, case.y_test * 1.0
    ev = evaluate(
        case.model,
        X_test,
        case.y_test,
        task="binary",
        X_train=X_train,
        y_train=case.y_train,
        explain=False,
    )
    assert ev.checks["leakage"][0] == {
        "feature": "outcome_code",
        "score": 1.0,
        "metric": "roc_auc",
        "flagged": True,
    }
    assert (
        "feature 'outcome_code' alone predicts the target (roc_auc 1.000): possible leakage"
        in ev.warnings
    )


def test_regression_and_multiclass_leaks_use_r2_and_ovr_auc() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=300), "id": [f"r{i}" for i in range(300)]})
    y = rng.normal(size=300)
    X["twice"] = 2 * y
    found = {i["feature"]: i for i in leakage(X, y, task="regression", seed=0)}
    assert found["twice"]["metric"] == "r2"
    assert found["twice"]["flagged"]
    assert found["twice"]["score"] > 0.95
    assert found["x"]["score"] < 0.2
    assert not found["id"]["flagged"]  # a unique identifier predicts nothing on new rows
    classes = rng.integers(0, 3, 300)
    X["label"] = np.array(["a", "b", "c"])[classes]
    found = {i["feature"]: i for i in leakage(X, classes, task="multiclass", seed=0)}
    assert found["label"]["flagged"]
    assert not found["x"]["flagged"]


def test_leakage_edge_cases() -> None:
    X = pd.DataFrame({"empty": [None] * 20, "x": np.arange(20.0)})
    found = leakage(X, np.r_[np.zeros(10, int), np.ones(10, int)], task="binary", seed=0)
    assert found[-1] == {"feature": "empty", "score": None, "metric": "roc_auc", "flagged": False}
    assert leakage(X, np.zeros(20, dtype=int), task="binary", seed=0) == []  # one class


def test_planted_duplicates_are_counted_exactly() -> None:
    case = cases.binary()
    X_test = case.X_test.copy()
    X_test.iloc[:7] = case.X_train.iloc[10:17].to_numpy()
    X_test["age"] = X_test["age"].astype(np.float64)  # 40 and 40.0 are the same value
    result = duplicates(X_test, case.X_train)
    assert result == {"shared_rows": 7, "test_rows": 300, "fraction": pytest.approx(7 / 300)}
    result = duplicates(X_test, case.X_train.drop(index=[10, 11]))
    assert result["shared_rows"] == 5
    assert duplicates(case.X_test, case.X_train)["shared_rows"] == 0


def test_duplicates_warn_through_evaluate() -> None:
    case = cases.binary("linear")
    X_test = pd.concat([case.X_test, case.X_train.iloc[:30]], ignore_index=True)
    y_test = np.r_[case.y_test, case.y_train[:30]]
    ev = evaluate(case.model, X_test, y_test, task="binary", X_train=case.X_train, explain=False)
    assert ev.checks["duplicates"]["shared_rows"] == 30
    assert ev.checks["note"].startswith("no y_train given")
    assert ev.checks["leakage"] == []
    assert "30 of 330 holdout rows (9.1%) also appear in the training rows" in ev.warnings[0]


def test_a_shifted_feature_drifts_and_an_unshifted_one_does_not() -> None:
    X_train, X_test = cases.frame(1000, 20), cases.frame(600, 21, shift=4.0)
    X_test["region"] = np.random.default_rng(1).choice(
        ["north", "south", "east"], 600, p=[0.2, 0.3, 0.5]
    )
    found = {item["feature"]: item for item in shift(X_train, X_test)}
    income = found["income"]
    ks = ks_2samp(X_train["income"], X_test["income"])
    assert income["test"] == "ks"
    assert income["drifted"]
    assert income["statistic"] == pytest.approx(ks.statistic)
    assert income["p_value"] == pytest.approx(ks.pvalue)
    assert income["effect"] == income["statistic"]
    for name in ("age", "noise", "plan"):
        assert not found[name]["drifted"], found[name]
    region = found["region"]
    table = pd.crosstab(
        np.r_[np.zeros(1000), np.ones(600)], pd.concat([X_train["region"], X_test["region"]])
    ).to_numpy()
    chi2, p_value, _, _ = chi2_contingency(table, correction=False)
    assert region["test"] == "chi2"
    assert region["drifted"]
    assert region["statistic"] == pytest.approx(chi2)
    assert region["p_value"] == pytest.approx(p_value)
    assert region["effect"] == pytest.approx(np.sqrt(chi2 / 1600))  # Cramér's V
    assert found["plan"]["test"] == "chi2"  # text with nulls: counted, missing as a category
    effects = [item["effect"] for item in found.values()]
    assert effects == sorted(effects, reverse=True)  # largest effect first


def test_a_tiny_shift_on_a_big_sample_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"x": rng.normal(0, 1, 60_000)})
    test = pd.DataFrame({"x": rng.normal(0.05, 1, 60_000)})
    (result,) = shift(train, test)
    assert result["p_value"] < 0.01
    assert result["effect"] < 0.1
    assert not result["drifted"]


def test_shift_handles_constant_empty_and_datetime_columns() -> None:
    train = pd.DataFrame(
        {
            "same": ["a"] * 50,
            "none": [np.nan] * 50,
            "half": np.arange(50.0),
            "when": pd.date_range("2024-01-01", periods=50, freq="D"),
        }
    )
    test = pd.DataFrame(
        {
            "same": ["a"] * 30,
            "none": [np.nan] * 30,
            "half": [np.nan] * 30,
            "when": pd.date_range("2024-06-01", periods=30, freq="D"),
        }
    )
    found = {item["feature"]: item for item in shift(train, test)}
    assert set(found) == {"same", "none", "when"}  # "half" has no test values to compare
    assert found["none"]["effect"] == 0.0
    assert not found["none"]["drifted"]
    assert found["same"] == {
        "feature": "same",
        "test": "chi2",
        "statistic": 0.0,
        "p_value": 1.0,
        "effect": 0.0,
        "drifted": False,
    }
    assert found["when"]["test"] == "ks"
    assert found["when"]["effect"] == 1.0
    assert found["when"]["drifted"]
