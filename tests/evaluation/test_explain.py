"""Explanations: permutation importance, partial dependence and SHAP against the libraries."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance
from sklearn.metrics import make_scorer, roc_auc_score

from modelyard.evaluation.explain import importance, partial_dependence
from modelyard.evaluation.shapley import INSTALL_HINT, is_tree_model, shap_summary
from tests.evaluation import cases


def test_importance_matches_sklearn_and_ranks_the_signal_first() -> None:
    case = cases.binary("linear")
    found, rows = importance(
        case.model, case.X_test, case.y_test, task="binary", metric="roc_auc", positive=1, seed=4
    )
    scorer = make_scorer(roc_auc_score, response_method="predict_proba")
    direct = permutation_importance(
        case.model, case.X_test, case.y_test, scoring=scorer, n_repeats=5, random_state=4
    )
    assert rows == 300
    by_name = {item["feature"]: item for item in found}
    for i, name in enumerate(case.X_test.columns):
        assert by_name[name]["mean"] == pytest.approx(direct.importances_mean[i])
        assert by_name[name]["std"] == pytest.approx(direct.importances_std[i])
    assert found[0]["feature"] == "income"
    assert abs(by_name["noise"]["mean"]) < 0.02
    means = [item["mean"] for item in found]
    assert means == sorted(means, reverse=True)


def test_importance_of_a_loss_metric_is_the_increase_in_loss() -> None:
    case = cases.regression()
    found, _ = importance(
        case.model, case.X_test, case.y_test, task="regression", metric="rmse", positive=1, seed=0
    )
    assert found[0]["feature"] == "income"
    assert found[0]["mean"] > 1.0
    ev = cases.evaluated("regression")
    assert [i["feature"] for i in ev.importance][:1] == ["income"]
    assert ev.importance_rows == 250


def test_numeric_partial_dependence_equals_sklearn_on_the_same_grid() -> None:
    case = cases.binary()
    (curve,) = partial_dependence(
        case.model, case.X_test, ["income"], task="binary", positive=1, seed=0
    )
    assert curve["kind"] == "numeric"
    assert curve["rows"] == 300
    assert len(curve["values"]) == 20
    low, high = np.quantile(case.X_test["income"], [0.05, 0.95])
    assert curve["values"][0] == pytest.approx(low)
    assert curve["values"][-1] == pytest.approx(high)
    direct = sk_partial_dependence(
        case.model,
        case.X_test,
        ["income"],
        custom_values={"income": np.array(curve["values"])},
        kind="average",
        method="brute",
    )
    assert curve["average"] == pytest.approx(direct["average"][0].tolist())
    assert curve["average"][-1] > curve["average"][0]  # more income, more churn


def test_categorical_partial_dependence_accepts_missing_values() -> None:
    case = cases.regression()
    curves = partial_dependence(
        case.model,
        case.X_test,
        ["plan", "region", "age", "noise"],
        task="regression",
        positive=1,
        seed=0,
    )
    assert [c["feature"] for c in curves] == ["plan", "region", "age"]  # at most three
    plan = curves[0]
    assert plan["kind"] == "categorical"
    assert set(plan["values"]) == {"basic", "plus", "pro"}
    averages = dict(zip(plan["values"], plan["average"], strict=True))
    assert averages["pro"] > averages["plus"] > averages["basic"]
    assert curves[2]["kind"] == "numeric"


def test_partial_dependence_of_the_full_evaluation_follows_importance() -> None:
    ev = cases.evaluated("multiclass")
    positive = [i["feature"] for i in ev.importance if i["mean"] and i["mean"] > 0]
    assert [c["feature"] for c in ev.partial_dependence] == positive[:3]
    for curve in ev.partial_dependence:
        assert all(0.0 <= p <= 1.0 for p in curve["average"])  # class-1 probability


def _shap() -> Any:
    """The shap module (the ``explain`` extra); skips the test where it is not installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's import warns about matplotlib
        return pytest.importorskip("shap")


def test_shap_of_a_forest_equals_the_tree_explainer() -> None:
    case = cases.binary()
    shap = _shap()
    summary = shap_summary(case.model, case.X_test, task="binary", positive=1, seed=0)
    features = case.model[:-1].transform(case.X_test)
    values = shap.TreeExplainer(case.model[-1]).shap_values(features, check_additivity=False)
    expected = np.abs(values[:, :, 1]).mean(axis=0)
    names = list(case.model[:-1].get_feature_names_out())
    assert summary["rows"] == 200  # a sample of the 300 rows
    assert summary["output"] == "positive"
    assert summary["total_features"] == len(names)
    assert summary["features"][0] == names[int(np.argmax(expected))]
    assert summary["mean_abs"] == sorted(summary["mean_abs"], reverse=True)
    full = shap_summary(case.model, case.X_test.iloc[:150], task="binary", positive=1, seed=0)
    direct = np.abs(values[:150, :, 1]).mean(axis=0)
    got = dict(zip(full["features"], full["mean_abs"], strict=True))
    for name, value in zip(names, direct, strict=True):
        assert got[name] == pytest.approx(value)


def test_shap_for_regression_and_multiclass_forests() -> None:
    _shap()
    ev = cases.evaluated("regression")
    assert ev.shap["unavailable"].startswith("SHAP values are computed for tree models only")
    case = cases.regression("forest")
    summary = shap_summary(case.model, case.X_test, task="regression", positive=1, seed=0)
    assert summary["output"] == "prediction"
    assert summary["features"][0] == "numeric__income"


def test_shap_is_unavailable_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)  # what a missing package looks like
    case = cases.binary()
    assert shap_summary(case.model, case.X_test, task="binary", positive=1, seed=0) == {
        "unavailable": INSTALL_HINT
    }
    assert INSTALL_HINT == "install modelyard[explain]"


def test_shap_is_unavailable_for_ensembles_and_linear_models() -> None:
    forest, linear = cases.binary(), cases.binary("linear")
    voting = VotingClassifier([("f", forest.model), ("l", linear.model)], voting="soft").fit(
        forest.X_train, forest.y_train
    )
    summary = shap_summary(voting, forest.X_test, task="binary", positive=1, seed=0)
    assert "this model is a VotingClassifier" in summary["unavailable"]
    summary = shap_summary(linear.model, linear.X_test, task="binary", positive=1, seed=0)
    assert "LogisticRegression" in summary["unavailable"]
    assert is_tree_model(forest.model[-1])
    assert not is_tree_model(linear.model[-1])


def test_an_ensemble_of_pipelines_is_still_explained_by_permutation() -> None:
    forest, linear = cases.binary(), cases.binary("linear")
    voting = VotingClassifier([("f", forest.model), ("l", linear.model)], voting="soft").fit(
        forest.X_train, forest.y_train
    )
    from modelyard.evaluation import evaluate

    ev = evaluate(voting, forest.X_test.iloc[:120], forest.y_test[:120], task="binary", seed=0)
    assert ev.importance[0]["feature"] == "income"
    assert ev.importance_rows == 120
    assert len(ev.partial_dependence) >= 1
    assert pd.Series([c["rows"] for c in ev.partial_dependence]).eq(120).all()


def test_shap_of_a_multiclass_forest_averages_over_the_classes() -> None:
    case = cases.multiclass()
    model = cases.pipeline(case.X_train, RandomForestClassifier(n_estimators=10, random_state=0))
    model.fit(case.X_train, case.y_train)
    sample = case.X_test.iloc[:120]
    shap = _shap()
    summary = shap_summary(model, sample, task="multiclass", positive=1, seed=0)
    values = shap.TreeExplainer(model[-1]).shap_values(
        model[:-1].transform(sample), check_additivity=False
    )
    expected = np.abs(values).mean(axis=(0, 2))
    names = list(model[:-1].get_feature_names_out())
    assert summary["output"] == "mean over classes"
    assert summary["rows"] == 120
    got = dict(zip(summary["features"], summary["mean_abs"], strict=True))
    assert got == pytest.approx(dict(zip(names, expected.tolist(), strict=True)))
