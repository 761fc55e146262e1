"""Fairness by group: rates and differences against fairlearn, undefined rates, regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm

from modelyard.evaluation.fairness import fairness
from modelyard.evaluation.scoring import Scored
from tests.evaluation import cases


def test_binary_fairness_matches_fairlearn() -> None:
    case, ev = cases.binary(), cases.evaluated("binary")
    proba = case.model.predict_proba(case.X_test)
    pred = proba.argmax(axis=1)
    region = case.X_test["region"]
    frame = MetricFrame(
        metrics={"sr": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=case.y_test,
        y_pred=pred,
        sensitive_features=region,
    )
    report = ev.fairness
    assert report is not None
    assert report["column"] == "region"
    assert [g["group"] for g in report["groups"]] == ["north", "south", "east"]  # by size
    for group in report["groups"]:
        expected = frame.by_group.loc[group["group"]]
        rows = (region == group["group"]).to_numpy()
        assert group["rows"] == rows.sum()
        assert group["selection_rate"] == pytest.approx(expected["sr"])
        assert group["tpr"] == pytest.approx(expected["tpr"])
        assert group["fpr"] == pytest.approx(expected["fpr"])
        auc = skm.roc_auc_score(case.y_test[rows], proba[rows, 1])
        assert group["roc_auc"] == pytest.approx(auc)  # the primary metric per group
    assert report["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(case.y_test, pred, sensitive_features=region)
    )
    assert report["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(case.y_test, pred, sensitive_features=region)
    )


def _scored(y: list[int], pred: list[int], k: int = 2, positive: int = 1) -> Scored:
    proba = np.eye(k)[pred] * 0.8 + 0.2 / k
    return Scored(
        "binary" if k == 2 else "multiclass", np.array(y), np.array(pred), proba, positive
    )


def test_a_rate_without_a_denominator_is_none_and_left_out_of_the_odds() -> None:
    column = pd.Series(["a", "a", "a", "a", "b", "b", "b", "c"], name="group")
    scored = _scored([1, 0, 1, 0, 1, 1, 0, 0], [1, 0, 0, 0, 1, 1, 1, 0])
    report = fairness(column, scored, "accuracy")
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["c"]["tpr"] is None
    assert groups["c"]["fpr"] == 0.0
    assert groups["c"]["selection_rate"] == 0.0
    assert groups["c"]["accuracy"] == 1.0
    assert groups["a"]["tpr"] == 0.5
    assert groups["b"]["fpr"] == 1.0
    # TPR spread over a, b = 0.5; FPR spread over a, b, c = 1.0
    assert report["equalized_odds_difference"] == 1.0
    assert report["demographic_parity_difference"] == pytest.approx(1.0)


def test_multiclass_fairness_is_the_positive_code_against_the_rest() -> None:
    column = pd.Series(["x", "x", "x", "y", "y", "y"], name="g")
    scored = _scored([2, 0, 1, 2, 2, 1], [2, 2, 1, 2, 0, 0], k=3, positive=2)
    report = fairness(column, scored, "accuracy")
    x, y = report["groups"]
    assert report["positive"] == 2
    assert x["selection_rate"] == pytest.approx(2 / 3)
    assert y["selection_rate"] == pytest.approx(1 / 3)
    assert x["tpr"] == 1.0
    assert y["tpr"] == 0.5
    assert x["fpr"] == 0.5
    assert y["fpr"] == 0.0
    assert report["demographic_parity_difference"] == pytest.approx(1 / 3)
    assert report["equalized_odds_difference"] == pytest.approx(0.5)


def test_a_numeric_sensitive_column_is_grouped_by_quartile() -> None:
    case = cases.binary("linear")
    from modelyard.evaluation import evaluate

    ev = evaluate(
        case.model, case.X_test, case.y_test, task="binary", sensitive="age", explain=False
    )
    assert ev.fairness is not None
    groups = [g["group"] for g in ev.fairness["groups"]]
    assert len(groups) == 4
    assert groups[0].startswith("[")
    assert groups[-1].endswith("]")
    assert sum(g["rows"] for g in ev.fairness["groups"]) == 300


def test_regression_fairness_reports_errors_per_group_with_a_note() -> None:
    case, ev = cases.regression(), cases.evaluated("regression")
    report = ev.fairness
    assert report is not None
    assert report["demographic_parity_difference"] is None
    assert report["equalized_odds_difference"] is None
    assert "defined for classifiers" in report["note"]
    pred = case.model.predict(case.X_test)
    for group in report["groups"]:
        rows = (case.X_test["region"] == group["group"]).to_numpy()
        assert group["mean_prediction"] == pytest.approx(pred[rows].mean())
        assert group["rmse"] == pytest.approx(
            skm.root_mean_squared_error(case.y_test[rows], pred[rows])
        )
        assert group["mae"] == pytest.approx(skm.mean_absolute_error(case.y_test[rows], pred[rows]))
