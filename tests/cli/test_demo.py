"""``modelyard demo``: ingests synthetic churn data, then trains and tracks candidates on it."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelyard.cli.app import main
from modelyard.cli.demo import EXPERIMENT
from modelyard.config import load_settings
from modelyard.registry import ModelRegistry
from modelyard.tracking import TrackingClient
from tests.cli.conftest import Result, strip_ansi, use_home, words

FAMILIES = {"linear", "random_forest", "hist_gradient_boosting", "lightgbm", "xgboost"}


@dataclass(frozen=True)
class Demo:
    """What one ``modelyard demo`` run printed, and the home it filled."""

    home: Path
    result: Result


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """``modelyard demo``, run once: it trains, registers and serves (the slow part)."""
    home = tmp_path_factory.mktemp("demo")
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_home(monkeypatch, home)
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["demo", "--folds", "2", "--rows", "1000", "--trials", "0"])
    return Demo(home, Result(code, strip_ansi(out.getvalue()), strip_ansi(err.getvalue())))


@pytest.fixture
def demo(demo_run: Demo, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """The shared demo run, its home again ``MODELYARD_HOME`` and the working folder."""
    use_home(monkeypatch, demo_run.home)
    return demo_run


@pytest.mark.slow
def test_demo_trains_tracks_and_prints_the_leaderboard(demo: Demo) -> None:
    home, result = demo.home, demo.result
    assert result.code == 0, result.err
    text = words(result.out)
    assert "leaderboard (roc_auc, binary)" in text
    assert "chosen:" in text
    assert "holdout: roc_auc" in text

    client = TrackingClient.from_settings(load_settings(home=home))
    try:
        runs = client.search_runs(EXPERIMENT).runs
        (parent,) = [r for r in runs if r.info.parent_run_id is None]
        children = [r for r in runs if r.info.parent_run_id == parent.run_id]
        trials = [r for r in children if "modelyard.trial" in r.data.tags]
        assert {r.data.tags["modelyard.family"] for r in trials} == FAMILIES
        assert parent.data.params["data"] == "churn@1"
        assert parent.data.params["holdout_rows"] == "150"
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["modelyard.best"] in text
        paths = {a.path for a in client.list_artifacts(parent.run_id)}
        assert {"leaderboard.json", "train_spec.yaml"} <= paths
        leaderboard = json.loads(client.read_artifact(parent.run_id, "leaderboard.json"))
        assert sum(row["chosen"] for row in leaderboard) == 1
        assert client.read_artifact(parent.run_id, "model/model.skops").startswith(b"PK")
        assert 0.6 < parent.data.metrics["holdout_roc_auc"] <= 1.0
    finally:
        client.close()
    assert f"modelyard runs show {parent.run_id}" in text
    # The registry step: registered, evaluated, gated, promoted, documented.
    assert "registered churn@1" in text
    assert "Fairness by region" in text
    assert "Promotion gates" in text
    registry = ModelRegistry.from_settings(load_settings(home=home))
    try:
        champion = registry.get("churn@champion")
        assert champion.version == 1
        assert champion.evaluation is not None
        assert champion.gates is not None
        assert champion.gates["passed"]
        assert "blob" in champion.formats["skops"]
    finally:
        registry.close()
    card = home / "cards" / "churn-v1.html"
    assert "promoted churn@1 to champion" in text
    assert "<svg" in card.read_text()
    # The serving step: a real server process, a burst of requests, a clean stop.
    assert "burst: 400 single-row requests" in text
    assert "server stopped: SIGTERM" in text


@pytest.mark.slow
def test_demo_ingests_masked_validated_churn_data(demo: Demo) -> None:
    import pandas as pd

    from modelyard.cli._demo_data import DEMO_MASKS
    from modelyard.data import DataClient

    home, result = demo.home, demo.result
    assert result.code == 0, result.err
    out = words(result.out)
    assert "churn@1 (1,000 rows" in out
    assert "synthetic" in out
    assert "masked: customer_id=hmac, email=hmac, name=redact, phone=drop" in out
    assert "split 'default': train 700, valid 150, test 150" in out
    assert "leaderboard (roc_auc, binary)" in out
    key = home / "demo-mask.key"
    assert key.stat().st_mode & 0o077 == 0  # a secret: owner only
    raw = pd.read_csv(home / "demo" / "churn.csv")
    stored = b"".join(p.read_bytes() for p in (home / "artifacts").rglob("*") if p.is_file())
    for column in ("email", "phone", "customer_id"):
        for value in raw[column].astype(str).head(50):
            assert value.encode() not in stored
    settings = load_settings(home=home, mask_key=key.read_text().strip())
    data = DataClient.from_settings(settings)
    try:
        churn = data.get("churn@1")
        assert churn.validation is not None
        assert [s.name for s in churn.splits()] == ["default"]
        rules = home / "demo" / "churn-rules.yaml"
        again = data.ingest(home / "demo" / "churn.csv", "churn", mask=DEMO_MASKS, rules=rules)
        assert again.ref == "churn@1"  # the same data and masking: the same version
    finally:
        data.close()
