"""evaluate(): metric values against scikit-learn, curves, residuals, the stored shape, bad input."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression, Ridge

from modelyard.evaluation import Evaluation, evaluate
from modelyard.exceptions import ValidationError
from modelyard.training import metric_names
from tests.evaluation import cases

KEYS = {
    "task",
    "rows",
    "labels",
    "metrics",
    "bootstrap",
    "confusion_matrix",
    "roc",
    "pr",
    "calibration",
    "residuals",
    "slices",
    "fairness",
    "importance",
    "importance_rows",
    "partial_dependence",
    "shap",
    "checks",
    "warnings",
}


def test_binary_metrics_match_sklearn_and_have_intervals() -> None:
    case, ev = cases.binary(), cases.evaluated("binary")
    proba = case.model.predict_proba(case.X_test)
    pred = proba.argmax(axis=1)
    assert ev.task == "binary"
    assert ev.rows == 300
    assert ev.labels == ["stay", "churn"]
    assert list(ev.metrics) == metric_names("binary")
    expected = {
        "roc_auc": skm.roc_auc_score(case.y_test, proba[:, 1]),
        "log_loss": skm.log_loss(case.y_test, proba),
        "accuracy": skm.accuracy_score(case.y_test, pred),
        "f1": skm.f1_score(case.y_test, pred, average="macro"),
    }
    for name, value in expected.items():
        entry = ev.metrics[name]
        assert entry["value"] == pytest.approx(value, abs=1e-12)
        assert entry["ci_low"] is not None
        assert entry["ci_high"] is not None
        assert entry["ci_low"] <= value <= entry["ci_high"]
        assert entry["ci_high"] - entry["ci_low"] < 0.3
    assert ev.bootstrap["resamples"] == 200
    assert ev.bootstrap["rows"] == 300


def test_binary_curves_match_sklearn() -> None:
    case, ev = cases.binary(), cases.evaluated("binary")
    score = case.model.predict_proba(case.X_test)[:, 1]
    pred = (score >= 0.5).astype(int)
    assert ev.confusion_matrix == {
        "labels": ["stay", "churn"],
        "matrix": skm.confusion_matrix(case.y_test, pred).tolist(),
    }
    assert ev.roc is not None
    assert ev.pr is not None
    assert ev.calibration is not None
    fpr, tpr, _ = skm.roc_curve(case.y_test, score)
    assert len(ev.roc["fpr"]) == len(fpr) <= 200
    assert ev.roc["fpr"] == pytest.approx(fpr.tolist())
    assert ev.roc["tpr"] == pytest.approx(tpr)
    assert ev.roc["auc"] == pytest.approx(ev.metrics["roc_auc"]["value"])
    ap = skm.average_precision_score(case.y_test, score)
    assert ev.pr["average_precision"] == pytest.approx(ap)
    assert ev.pr["recall"][0] == 1.0
    assert ev.pr["recall"][-1] == 0.0
    prob_true, prob_pred = calibration_curve(case.y_test, score, n_bins=10)
    assert ev.calibration["prob_true"] == pytest.approx(prob_true.tolist())
    assert ev.calibration["prob_pred"] == pytest.approx(prob_pred.tolist())
    assert sum(ev.calibration["count"]) == 300
    assert len(ev.calibration["count"]) == len(prob_true)
    assert ev.calibration["brier"] == pytest.approx(skm.brier_score_loss(case.y_test, score))
    assert ev.residuals is None


def test_positive_class_zero_flips_the_curves() -> None:
    case = cases.binary("linear")
    ev = evaluate(case.model, case.X_test, case.y_test, task="binary", positive=0, explain=False)
    score = case.model.predict_proba(case.X_test)[:, 0]
    assert ev.labels == ["0", "1"]
    assert ev.roc is not None
    assert ev.pr is not None
    assert ev.roc["auc"] == pytest.approx(skm.roc_auc_score(case.y_test == 0, score))
    assert ev.pr["average_precision"] == pytest.approx(
        skm.average_precision_score(case.y_test == 0, score)
    )


def test_multiclass_metrics_and_one_vs_rest_roc() -> None:
    case, ev = cases.multiclass(), cases.evaluated("multiclass")
    proba = case.model.predict_proba(case.X_test)
    assert ev.metrics["roc_auc"]["value"] == pytest.approx(
        skm.roc_auc_score(case.y_test, proba, multi_class="ovr", average="macro")
    )
    assert ev.metrics["balanced_accuracy"]["value"] == pytest.approx(
        skm.balanced_accuracy_score(case.y_test, proba.argmax(axis=1))
    )
    assert ev.roc is not None
    assert set(ev.roc["per_class"]) == {"low", "mid", "high"}
    for code, label in enumerate(["low", "mid", "high"]):
        auc = skm.roc_auc_score(case.y_test == code, proba[:, code])
        assert ev.roc["per_class"][label]["auc"] == pytest.approx(auc)
    assert ev.roc["auc"] == pytest.approx(ev.metrics["roc_auc"]["value"])
    assert ev.pr is None
    assert ev.calibration is None
    matrix = np.array(ev.confusion_matrix["matrix"])  # type: ignore[index]
    assert matrix.shape == (3, 3)
    assert matrix.sum() == 300


def test_regression_metrics_and_residuals() -> None:
    case, ev = cases.regression(), cases.evaluated("regression")
    pred = case.model.predict(case.X_test)
    error = case.y_test - pred
    assert ev.labels is None
    assert ev.confusion_matrix is None
    assert ev.roc is None
    assert ev.metrics["rmse"]["value"] == pytest.approx(
        skm.root_mean_squared_error(case.y_test, pred)
    )
    assert ev.metrics["r2"]["value"] == pytest.approx(skm.r2_score(case.y_test, pred))
    res = ev.residuals
    assert res is not None
    assert res["mean"] == pytest.approx(error.mean())
    assert res["mae"] == pytest.approx(np.abs(error).mean())
    assert res["p50"] == pytest.approx(np.median(error))
    assert res["max_abs"] == pytest.approx(np.abs(error).max())
    assert sum(res["histogram"]["counts"]) == 250
    assert len(res["histogram"]["edges"]) == len(res["histogram"]["counts"]) + 1
    assert res["sample"]["actual"] == pytest.approx(case.y_test.tolist())  # 250 <= 500 points


def test_residual_sample_is_capped_at_500_points() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=1200)})
    y = 2 * X["x"].to_numpy() + rng.normal(size=1200)
    model = cases.pipeline(X, Ridge()).fit(X, y)
    ev = evaluate(model, X, y, task="regression", explain=False)
    assert ev.residuals is not None
    assert len(ev.residuals["sample"]["actual"]) == 500
    assert set(ev.residuals["sample"]["actual"]) <= set(y.tolist())


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
def test_the_stored_form_is_strict_json_and_round_trips(name: str) -> None:
    ev = cases.evaluated(name)
    doc = ev.to_dict()
    assert set(doc) == KEYS
    text = json.dumps(doc, allow_nan=False)
    again = Evaluation.from_dict(json.loads(text))
    assert again == ev
    assert again.to_dict() == doc


def test_undefined_numbers_are_none_not_nan() -> None:
    ev = Evaluation(
        task="binary", rows=1, labels=["a", "b"], metrics={"roc_auc": {"value": math.nan}}
    )
    ev.checks = {"shift": [{"p_value": np.float64("inf"), "effect": np.float32(0.5)}]}
    doc = ev.to_dict()
    assert doc["metrics"]["roc_auc"]["value"] is None
    assert doc["checks"]["shift"][0] == {"p_value": None, "effect": 0.5}
    json.dumps(doc, allow_nan=False)


def test_from_dict_needs_the_core_keys() -> None:
    with pytest.raises(ValidationError, match="lacks rows, metrics"):
        Evaluation.from_dict({"task": "binary"})
    with pytest.raises(ValidationError, match="mapping"):
        Evaluation.from_dict([])  # type: ignore[arg-type]
    minimal = Evaluation.from_dict({"task": "binary", "rows": 3, "metrics": {}, "future": 1})
    assert minimal.labels is None
    assert minimal.checks == {}
    assert minimal.shap == {}
    with pytest.raises(ValidationError, match="no metric 'auc'"):
        minimal.metric("auc")


def test_same_seed_same_result_and_progress_is_reported() -> None:
    case = cases.binary("linear")
    stages: list[str] = []
    first = evaluate(
        case.model, case.X_test, case.y_test, task="binary", seed=3, on_progress=stages.append
    )
    second = evaluate(case.model, case.X_test, case.y_test, task="binary", seed=3)
    assert first == second
    assert stages[:4] == ["predicting", "metrics", "bootstrap", "curves"]
    assert "importance" in stages
    assert "shap" in stages
    assert "leakage" not in stages
    assert first.checks["note"].startswith("no training rows given")
    assert first.checks["leakage"] == []
    assert first.checks["duplicates"] is None


def test_explain_false_skips_the_explanations() -> None:
    case = cases.binary("linear")
    ev = evaluate(case.model, case.X_test, case.y_test, task="binary", explain=False)
    assert ev.importance == []
    assert ev.partial_dependence == []
    assert ev.importance_rows == 0
    assert "explain=False" in ev.shap["unavailable"]


def test_chosen_metrics_come_in_the_order_asked() -> None:
    case = cases.binary("linear")
    ev = evaluate(
        case.model,
        case.X_test,
        case.y_test,
        task="binary",
        metrics=["accuracy", "roc_auc", "accuracy"],
        explain=False,
    )
    assert list(ev.metrics) == ["accuracy", "roc_auc"]


def test_a_tiny_single_class_holdout_is_reported_not_fatal() -> None:
    case = cases.binary("linear")
    rows = np.flatnonzero(case.y_test == 1)[:5]
    ev = evaluate(
        case.model, case.X_test.iloc[rows], case.y_test[rows], task="binary", explain=False
    )
    assert ev.metrics["roc_auc"] == {"value": None, "ci_low": None, "ci_high": None}
    assert ev.metrics["accuracy"]["value"] is not None
    assert ev.roc is None
    assert ev.calibration is None
    assert any("single class" in w for w in ev.warnings)
    assert any("only 5 holdout rows" in w for w in ev.warnings)
    json.dumps(ev.to_dict(), allow_nan=False)


def _call(**overrides: object) -> None:
    case = cases.binary("linear")
    kwargs: dict[str, object] = {
        "task": "binary",
        "labels": case.labels,
        "explain": False,
    }
    args = [overrides.pop("model", case.model), overrides.pop("X_test", case.X_test)]
    args.append(overrides.pop("y_test", case.y_test))
    evaluate(*args, **(kwargs | overrides))  # type: ignore[arg-type]


def test_a_sensitive_column_that_is_not_there_names_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match=r"sensitive column\(s\) 'gender' not in") as err:
        _call(sensitive="gender")
    assert "income, age, plan, region, noise" in str(err.value)


def test_a_slice_column_that_is_not_there_names_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="'zone' not in the data; valid columns: income"):
        _call(slices=["plan", "zone"])


def test_an_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match=r"'rmse', 'auc'.*valid: roc_auc, log_loss"):
        _call(metrics=["rmse", "auc"])
    with pytest.raises(ValidationError, match="metrics is empty"):
        _call(metrics=[])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"X_test": pd.DataFrame(columns=["income"])}, "X_test has no rows"),
        ({"X_test": np.zeros((3, 2))}, "must be a pandas DataFrame"),
        ({"y_test": np.zeros(4, dtype=int)}, r"shape \(4,\); it must be one value per row"),
        ({"y_test": np.array(["a"] * 300)}, "class codes 0..k-1.*'a'"),
        ({"y_test": np.full(300, 2)}, "class code 2 but the model knows codes 0..1"),
        ({"task": "ranking"}, "unknown task 'ranking'; valid: binary, multiclass, regression"),
        ({"task": "multiclass", "labels": ["a", "b", "c"]}, "labels names 3 classes"),
        ({"positive": 2}, "positive must be a class code in 0..1"),
        ({"positive": "churn"}, r"in 0..1, not 'churn' \('churn' is code 1\)"),
        ({"y_train": np.zeros(5)}, "y_train was given without X_train"),
        ({"X_train": pd.DataFrame({"income": [1.0]})}, "X_train lacks the holdout column"),
        ({"X_train": pd.DataFrame()}, "X_train has no rows"),
        ({"sensitive": ["region"]}, "sensitive must name one column, not list; columns: income"),
        ({"slices": ["plan", 3]}, "slices must be column names"),
        ({"y_test": pd.Series([0.5] * 300)}, "class codes 0..k-1.*0.5"),
        ({"y_test": pd.Series([None] * 300)}, "class codes 0..k-1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _call(**overrides)


def test_regression_targets_must_be_finite_numbers() -> None:
    case = cases.regression()
    y = case.y_test.copy()
    y[3] = np.nan
    with pytest.raises(ValidationError, match="nulls or infinities"):
        evaluate(case.model, case.X_test, y, task="regression")
    with pytest.raises(ValidationError, match="numeric for a regression"):
        evaluate(case.model, case.X_test, y.astype(str), task="regression")


def test_a_regressor_cannot_be_evaluated_as_a_classifier() -> None:
    case = cases.regression()
    with pytest.raises(ValidationError, match="Pipeline has no predict_proba"):
        evaluate(case.model, case.X_test, np.zeros(250, dtype=int), task="binary")


@pytest.mark.slow
def test_a_large_holdout_is_evaluated_on_samples_in_seconds() -> None:
    rng = np.random.default_rng(0)
    X_train, X_test = cases.frame(20_000, 30), cases.frame(100_000, 31)
    y_train = (X_train["income"] + rng.normal(0, 8, 20_000) > 50).to_numpy().astype(np.int64)
    y_test = (X_test["income"] + rng.normal(0, 8, 100_000) > 50).to_numpy().astype(np.int64)
    model = cases.pipeline(X_train, LogisticRegression(max_iter=300)).fit(X_train, y_train)
    started = time.perf_counter()
    ev = evaluate(
        model,
        X_test,
        y_test,
        task="binary",
        X_train=X_train,
        y_train=y_train,
        sensitive="region",
        slices=["age", "plan"],
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 60  # typically 5-10 s on two busy cores
    assert ev.rows == 100_000
    assert ev.bootstrap["rows"] == 5000
    assert "m-out-of-n" in ev.bootstrap["method"]
    assert ev.importance_rows == 2000
    assert {c["rows"] for c in ev.partial_dependence} == {500}
    assert ev.roc is not None
    assert len(ev.roc["fpr"]) <= 200
    assert ev.checks["duplicates"]["test_rows"] == 100_000
    low, high = ev.metrics["roc_auc"]["ci_low"], ev.metrics["roc_auc"]["ci_high"]
    assert low is not None
    assert high is not None
    assert 0 < high - low < 0.02  # 100k rows pin the AUC down tightly


def test_targets_may_be_booleans_or_nullable_integers() -> None:
    case = cases.binary("linear")
    plain = evaluate(case.model, case.X_test, case.y_test, task="binary", explain=False)
    for y in (case.y_test.astype(bool), pd.Series(case.y_test, dtype="Int64")):
        ev = evaluate(case.model, case.X_test, y, task="binary", explain=False)
        assert ev.metrics == plain.metrics


def test_the_frame_index_does_not_matter() -> None:
    case = cases.binary()
    kwargs = {"task": "binary", "sensitive": "region", "slices": ["plan", "age"], "seed": 1}
    plain = evaluate(case.model, case.X_test, case.y_test, **kwargs)  # type: ignore[arg-type]
    odd = case.X_test.set_index(pd.Index([7] * 300))
    ev = evaluate(case.model, odd, case.y_test, **kwargs)  # type: ignore[arg-type]
    assert ev == plain
