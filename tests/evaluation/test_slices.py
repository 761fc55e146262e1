"""Slices: grouping a column (quartile bins, top values, missing) and metrics per group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from modelyard.evaluation.groups import MISSING, OTHER, group_labels
from tests.evaluation import cases


def test_numeric_columns_are_cut_at_their_quartiles() -> None:
    column = pd.Series(np.r_[np.arange(1.0, 101.0), np.nan])
    labels, order = group_labels(column)
    assert order == ["[1, 25.75)", "[25.75, 50.5)", "[50.5, 75.25)", "[75.25, 100]", MISSING]
    assert [int((labels == group).sum()) for group in order] == [25, 25, 25, 25, 1]
    assert labels[0] == "[1, 25.75)"
    assert labels[99] == "[75.25, 100]"
    assert labels[100] == MISSING


def test_few_distinct_numbers_and_booleans_group_by_value() -> None:
    labels, order = group_labels(pd.Series([3, 1, 1, 2, 3, 3]))
    assert order == ["3", "1", "2"]
    assert labels.tolist() == ["3", "1", "1", "2", "3", "3"]
    labels, order = group_labels(pd.Series([True, False, True]))
    assert order == ["True", "False"]


def test_at_most_twenty_values_then_other() -> None:
    values = [f"v{i:02d}" for i in range(30) for _ in range(30 - i)]  # v00 most frequent
    labels, order = group_labels(pd.Series([*values, None]))
    assert len(order) == 21
    assert order[:2] == ["v00", "v01"]
    assert order[-2:] == [OTHER, MISSING]
    assert (labels == OTHER).sum() == sum(30 - i for i in range(19, 30))


def test_datetime_columns_are_binned_with_readable_edges() -> None:
    column = pd.Series(pd.date_range("2024-01-01", periods=40, freq="D")).astype("datetime64[s]")
    labels, order = group_labels(pd.concat([column, pd.Series([pd.NaT])], ignore_index=True))
    assert order[0].startswith("[2024-01-01 00:00:00, 2024-01-10")
    assert order[-2].endswith("]")
    assert order[-1] == MISSING
    assert labels[-1] == MISSING


def test_a_constant_numeric_column_is_one_closed_bin() -> None:
    column = pd.Series(np.r_[np.full(20, 5.0), np.arange(11.0)])
    labels, order = group_labels(column)
    assert len(order) >= 1
    assert sum(int((labels == g).sum()) for g in order) == 31
    _, order = group_labels(pd.Series(np.full(12, 2.5)))
    assert order == ["2.5"]


def test_slice_metrics_match_sklearn_per_group() -> None:
    case, ev = cases.binary(), cases.evaluated("binary")
    proba = case.model.predict_proba(case.X_test)
    plan = ev.slices["plan"]
    assert [s["value"] for s in plan][-1] == MISSING
    assert sum(s["rows"] for s in plan) == 300
    for entry in plan:
        column = case.X_test["plan"]
        rows = (column.isna() if entry["value"] == MISSING else column == entry["value"]).to_numpy()
        assert entry["rows"] == rows.sum()
        expected = skm.accuracy_score(case.y_test[rows], proba[rows].argmax(axis=1))
        assert entry["metrics"]["accuracy"] == pytest.approx(expected)
        assert set(entry["metrics"]) == set(ev.metrics)
    income = ev.slices["income"]
    assert len(income) == 4
    assert all(s["rows"] == 75 for s in income)
    assert income[0]["value"].startswith("[")
    assert income[-1]["value"].endswith("]")
