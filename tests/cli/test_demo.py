"""``modelyard demo``: trains two candidates and tracks everything on the default store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.cli.demo import EXPERIMENT
from modelyard.config import load_settings
from modelyard.tracking import TrackingClient
from tests.cli.conftest import Result, words

CLI = Callable[..., Result]
CANDIDATES = {"logistic_regression", "random_forest"}


@pytest.mark.slow
def test_demo_tracks_runs_metrics_and_artifacts(cli: CLI, home: Path) -> None:
    result = cli("demo", "--folds", "2")
    assert result.code == 0, result.err

    client = TrackingClient.from_settings(load_settings(home=home))
    try:
        runs = client.search_runs(EXPERIMENT).runs
        (parent,) = [r for r in runs if r.info.parent_run_id is None]
        children = [r for r in runs if r.info.parent_run_id == parent.run_id]
        assert len(runs) == 3
        assert {r.info.name for r in children} == CANDIDATES
        assert {r.info.status for r in runs} == {"FINISHED"}

        assert parent.info.name == "model-selection"
        assert parent.data.params["folds"] == "2"
        assert parent.data.params["seed"] == "0"
        assert parent.data.params["dataset"] == "sklearn.breast_cancer"
        best = parent.data.tags["best_model"]
        assert best in CANDIDATES
        leaderboard = json.loads(client.read_artifact(parent.run_id, "leaderboard.json"))
        assert leaderboard["best"] == best
        assert set(leaderboard["cv_auc"]) == CANDIDATES
        assert parent.data.metrics["best_cv_auc"] == pytest.approx(
            max(leaderboard["cv_auc"].values())
        )
        assert [a.path for a in client.list_artifacts(parent.run_id)] == ["leaderboard.json"]

        for child in children:
            paths = {a.path for a in client.list_artifacts(child.run_id)}
            assert paths == {"model/model.skops", "plots/roc.png"}
            assert client.read_artifact(child.run_id, "plots/roc.png").startswith(b"\x89PNG")
            assert client.read_artifact(child.run_id, "model/model.skops").startswith(b"PK")
            metrics = child.data.metrics
            assert {"cv_auc", "cv_auc_std", "holdout_auc", "fold_auc"} <= set(metrics)
            assert 0.5 < metrics["cv_auc"] <= 1.0
            assert metrics["cv_auc"] == pytest.approx(leaderboard["cv_auc"][child.info.name])
            history = client.get_metric_history(child.run_id, "fold_auc")
            assert [m.step for m in history] == [0, 1]
            assert child.data.params["model"]
    finally:
        client.close()

    text = words(result.out)
    assert f"Runs in '{EXPERIMENT}'" in text
    assert f"best: {best} (mean CV ROC AUC" in text
    assert f"modelyard runs show {parent.run_id}" in text


@pytest.mark.slow
def test_demo_runs_are_listed_and_shown_by_the_cli(cli: CLI) -> None:
    assert cli("demo", "--folds", "2", "--seed", "3").code == 0
    listed = json.loads(cli("runs", "list", "-e", EXPERIMENT, "--json").out)["runs"]
    assert len(listed) == 3
    parent = next(r for r in listed if r["info"]["parent_run_id"] is None)
    assert parent["data"]["params"]["seed"] == "3"
    shown = cli("runs", "show", parent["info"]["run_id"])
    assert "leaderboard.json" in shown.out
    assert "best_model" in shown.out


@pytest.mark.slow
def test_demo_ingests_masked_validated_churn_data(cli: CLI, home: Path) -> None:
    import pandas as pd

    from modelyard.data import DataClient

    result = cli("demo", "--folds", "2", "--rows", "1000")
    assert result.code == 0, result.err
    out = words(result.out)
    assert "churn@1 (1,000 rows" in out
    assert "synthetic" in out
    assert "masked: customer_id=hmac, email=hmac, name=redact, phone=drop" in out
    assert "split 'default': train 700, valid 150, test 150" in out
    assert (home / "demo-mask.key").stat().st_mode & 0o077 == 0  # a secret: owner only
    raw = pd.read_csv(home / "demo" / "churn.csv")
    stored = b"".join(p.read_bytes() for p in (home / "artifacts").rglob("*") if p.is_file())
    for column in ("email", "phone", "customer_id"):
        for value in raw[column].astype(str).head(50):
            assert value.encode() not in stored
    data = DataClient.from_settings(load_settings(home=home))
    try:
        churn = data.get("churn@1")
        assert churn.validation is not None
        assert [s.name for s in churn.splits()] == ["default"]
    finally:
        data.close()
    again = cli("demo", "--folds", "2", "--rows", "1000")  # same data: same version
    assert again.code == 0
    assert "churn@1 (1,000 rows" in words(again.out)
