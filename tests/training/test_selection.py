"""The selection rule: best score within the budgets, or the simplest near the best."""

from __future__ import annotations

import math

import pytest

from modelyard.exceptions import ValidationError
from modelyard.training.metrics import get_metric
from modelyard.training.selection import Candidate, leaderboard_rows, select
from modelyard.training.spec import SelectionSpec

AUC = get_metric("roc_auc", "binary")
RMSE = get_metric("rmse", "regression")


def cand(
    name: str, score: float, complexity: int, latency: float = 1.0, size: float = 1.0
) -> Candidate:
    summary = {"latency_ms": latency, "model_size_mb": size, "cv_roc_auc": score, "cv_rmse": score}
    return Candidate(name, name, {}, score, summary, None, complexity)


CANDIDATES = [
    cand("linear", 0.900, 1, latency=0.1, size=0.01),
    cand("lightgbm", 0.903, 3, latency=0.5, size=2.0),
    cand("ensemble", 0.905, 100, latency=3.0, size=60.0),
]


def test_the_best_score_wins_by_default() -> None:
    winner, reason = select(CANDIDATES, AUC, SelectionSpec())
    assert winner.name == "ensemble"
    assert reason.startswith("best roc_auc")


def test_a_simpler_model_within_the_margin_wins() -> None:
    winner, reason = select(CANDIDATES, AUC, SelectionSpec(prefer_simpler_within=0.002))
    assert winner.name == "lightgbm"
    assert "simplest within 0.002" in reason
    assert select(CANDIDATES, AUC, SelectionSpec(prefer_simpler_within=0.01))[0].name == "linear"


def test_budgets_filter_candidates() -> None:
    assert select(CANDIDATES, AUC, SelectionSpec(max_size_mb=50))[0].name == "lightgbm"
    assert select(CANDIDATES, AUC, SelectionSpec(max_latency_ms=0.2))[0].name == "linear"
    with pytest.raises(ValidationError, match="no candidate fits the budget"):
        select(CANDIDATES, AUC, SelectionSpec(max_latency_ms=0.01))


def test_lower_is_better_metrics_and_nan_scores() -> None:
    candidates = [cand("a", 3.0, 1), cand("b", 2.0, 2), cand("c", math.nan, 1)]
    assert select(candidates, RMSE, SelectionSpec())[0].name == "b"


def test_leaderboard_rows_are_ranked_and_mark_the_winner() -> None:
    winner = CANDIDATES[1]
    rows = leaderboard_rows(CANDIDATES, AUC, ["roc_auc"], winner)
    assert [r["candidate"] for r in rows] == ["ensemble", "lightgbm", "linear"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["chosen"] for r in rows] == [False, True, False]
    assert rows[0]["size_mb"] == 60.0
