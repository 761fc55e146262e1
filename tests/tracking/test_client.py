"""The tracking client: experiments, search, and the module-level API."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard.exceptions import FilterSyntaxError, NotFoundError
from modelyard.tracking import TrackingClient


def test_search_by_experiment_name(client: TrackingClient) -> None:
    for exp, auc in [("a", 0.9), ("a", 0.8), ("b", 0.95)]:
        with client.start_run(exp) as run:
            run.log_metric("auc", auc)
    assert len(client.search_runs("a")) == 2
    assert len(client.search_runs(["a", "b"], filter="metrics.auc > 0.85")) == 2
    assert len(client.search_runs()) == 3
    best = client.search_runs(order_by="metrics.auc DESC", max_results=1)
    assert best[0].data.metrics["auc"] == 0.95
    assert best.next_page_token is not None
    with pytest.raises(NotFoundError, match="existing experiments: a, b"):
        client.search_runs("nope")
    with pytest.raises(FilterSyntaxError, match="position"):
        client.search_runs("a", filter="metrics.auc >")


def test_module_level_api_uses_the_configured_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    client = my.connect()
    try:
        with my.start_run("fluent", run_name="r") as run:
            run.log_metric("auc", 0.9, step=1)
        assert (tmp_path / "home" / "modelyard.db").exists()
        assert my.get_run(run.run_id).data.metrics == {"auc": 0.9}
        assert [m.step for m in my.get_metric_history(run.run_id, "auc")] == [1]
        assert [r.run_id for r in my.search_runs("fluent", filter="metrics.auc > 0.5")] == [
            run.run_id
        ]
        assert [e.name for e in my.list_experiments()] == ["fluent"]
        assert my.get_client() is client
    finally:
        client.close()


def test_encryption_at_rest_through_the_client(tmp_path: Path) -> None:
    import os

    from modelyard.config import load_settings
    from modelyard.exceptions import EncryptionError

    key = os.urandom(32).hex()
    with_key = TrackingClient.from_settings(load_settings(home=tmp_path, master_key=key, env={}))
    with with_key.start_run("secret") as run:
        run.log_text("customer list: ada, grace", "data.txt")
    assert with_key.read_artifact(run.run_id, "data.txt") == b"customer list: ada, grace"
    stored = [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]
    assert stored
    assert all(b"customer list" not in p.read_bytes() for p in stored)
    with_key.close()

    without_key = TrackingClient.from_settings(load_settings(home=tmp_path, env={}))
    with pytest.raises(EncryptionError, match="MODELYARD_MASTER_KEY"):
        without_key.read_artifact(run.run_id, "data.txt")
    without_key.close()
