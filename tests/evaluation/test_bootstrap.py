"""Bootstrap intervals: the vectorised metrics equal scikit-learn on every resample."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.evaluation.bootstrap import ROWS, bootstrap_intervals, resampled
from modelyard.evaluation.scoring import Scored, score
from modelyard.training import METRICS, metric_names


def _classes(k: int, n: int, seed: int) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    logits = np.round(logits, 1)  # ties in the scores, which ROC AUC must average
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Scored("binary" if k == 2 else "multiclass", y, proba.argmax(axis=1), proba)


def _regression(n: int, seed: int) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return Scored("regression", y, y + rng.normal(0, 0.6, n), None)


CASES = {
    "binary": lambda: _classes(2, 200, 0),
    "multiclass": lambda: _classes(4, 200, 1),
    "regression": lambda: _regression(200, 2),
}


@pytest.mark.parametrize("task", list(CASES))
def test_each_resample_matches_the_training_metric(task: str) -> None:
    scored = CASES[task]()
    rows = np.random.default_rng(5).integers(0, 200, size=(40, 30))  # small: classes go missing
    for name in metric_names(task):
        fast = resampled(name, scored, rows)
        slow = []
        for r in rows:
            value = score([name], scored.subset(r))[name]
            slow.append(math.nan if value is None else value)
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12, err_msg=name)


def test_an_unvectorised_metric_falls_back_to_one_call_per_resample() -> None:
    scored = CASES["binary"]()
    rows = np.random.default_rng(0).integers(0, 200, size=(5, 50))
    fast = resampled("accuracy", scored, rows)
    from modelyard.evaluation import bootstrap

    saved = bootstrap._FAST.pop("accuracy")
    try:
        slow = resampled("accuracy", scored, rows)
    finally:
        bootstrap._FAST["accuracy"] = saved
    np.testing.assert_allclose(fast, slow)
    assert METRICS["accuracy"].needs_proba is False


def test_interval_of_an_accuracy_is_close_to_the_normal_approximation() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < 0.8
    pred = np.where(correct, y, 1 - y)
    proba = np.column_stack([1 - pred, pred]).astype(float)
    scored = Scored("binary", y, pred, proba)
    values = score(["accuracy"], scored)
    out, info = bootstrap_intervals(["accuracy"], scored, values, seed=0)
    acc = values["accuracy"]
    assert acc is not None
    half = 1.96 * math.sqrt(acc * (1 - acc) / n)
    entry = out["accuracy"]
    assert entry["ci_low"] == pytest.approx(acc - half, abs=0.006)
    assert entry["ci_high"] == pytest.approx(acc + half, abs=0.006)
    assert info == {"resamples": 200, "rows": n, "level": 0.95, "method": "percentile"}


def test_a_large_holdout_resamples_m_rows_and_scales_the_interval() -> None:
    n = 4 * ROWS
    scored = _regression(n, 9)
    values = score(["mae"], scored)
    out, info = bootstrap_intervals(["mae"], scored, values, seed=1)
    assert info["rows"] == ROWS
    assert "m-out-of-n" in info["method"]
    mae = values["mae"]
    assert mae is not None
    errors = np.abs(scored.y - scored.pred)
    half = 1.96 * errors.std() / math.sqrt(n)  # the CLT interval of a mean on all n rows
    low, high = out["mae"]["ci_low"], out["mae"]["ci_high"]
    assert low is not None
    assert high is not None
    assert low < mae < high
    assert high - low == pytest.approx(2 * half, rel=0.2)


def test_undefined_metrics_have_no_interval() -> None:
    y = np.array([1, 1, 1, 1])
    proba = np.array([[0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    scored = Scored("binary", y, proba.argmax(axis=1), proba)
    values = score(["roc_auc", "accuracy"], scored)
    out, _ = bootstrap_intervals(["roc_auc", "accuracy"], scored, values, seed=0)
    assert out["roc_auc"] == {"value": None, "ci_low": None, "ci_high": None}
    assert out["accuracy"]["value"] == 0.75
    assert out["accuracy"]["ci_low"] is not None
