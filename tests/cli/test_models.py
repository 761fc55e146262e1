"""``modelyard models ...``: register, list, show, evaluate, promote, alias, card, history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.config import load_settings
from modelyard.data import DataClient
from modelyard.data.synthetic import make_churn
from modelyard.tracking import TrackingClient
from modelyard.training import train
from tests.cli.conftest import Result, words

CLI = Callable[..., Result]
SPEC = {
    "families": {"linear": {}},
    "cv": {"folds": 2},
    "tuning": {"trials": 1},
    "ensembles": {"average": False, "stacking": False},
}


@pytest.fixture
def run_id(home: Path) -> str:
    conf = load_settings(home=home)
    tracking, data = TrackingClient.from_settings(conf), DataClient.from_settings(conf)
    try:
        frame = make_churn(400, seed=1).drop(columns=["name", "email", "phone", "customer_id"])
        data.ingest(frame, "churn")
        result = train(
            "churn@1", "churned", SPEC, tracking=tracking, data_client=data, settings=conf
        )
    finally:
        tracking.close()
        data.close()
    return result.run_id


@pytest.mark.slow
def test_the_model_lifecycle_from_the_command_line(cli: CLI, run_id: str, home: Path) -> None:
    registered = cli("models", "register", run_id, "--name", "churn")
    assert registered.code == 0, registered.err
    assert "registered churn@1" in words(registered.out)
    assert "onnx" in registered.out
    assert "skops" in registered.out

    listed = cli("models", "list")
    assert listed.code == 0
    assert "churn" in listed.out

    shown = cli("models", "show", "churn@1")
    assert shown.code == 0, shown.err
    text = words(shown.out)
    assert "lineage" in text
    assert "churn@1" in text
    assert "not evaluated yet" in text

    evaluated = cli("models", "evaluate", "churn@1", "--sensitive", "region", "--no-explain")
    assert evaluated.code == 0, evaluated.err
    assert "Fairness by region" in words(evaluated.out)

    gates = home / "gates.yaml"
    gates.write_text("gates:\n  - metric: roc_auc >= 0.99\n")
    blocked = cli("models", "promote", "churn@1", "--gates", str(gates))
    assert blocked.code == 1
    assert "not promoted" in words(blocked.err)

    gates.write_text("gates:\n  - metric: roc_auc >= 0.5\n  - size: {mb: <= 50}\n")
    promoted = cli("models", "promote", "churn@1", "--gates", str(gates))
    assert promoted.code == 0, promoted.err
    assert "promoted churn@1 to champion" in words(promoted.out)

    assert cli("models", "alias", "churn", "challenger", "1", "--reason", "ab").code == 0
    as_json = cli("models", "show", "churn@champion", "--json")
    doc = json.loads(as_json.out)
    assert doc["version"] == 1
    assert sorted(doc["aliases"]) == ["challenger", "champion"]

    card = home / "card.html"
    made = cli("models", "card", "churn@champion", "-o", str(card))
    assert made.code == 0, made.err
    assert "<svg" in card.read_text()

    history = cli("models", "history", "churn")
    assert history.code == 0
    text = words(history.out)
    assert "register" in text
    assert "champion" in text
    assert "challenger" in text

    refused = cli("models", "delete", "churn@1")
    assert refused.code == 1
    assert "champion" in refused.err


def test_errors_are_messages_not_tracebacks(cli: CLI) -> None:
    missing = cli("models", "show", "nothing@1")
    assert missing.code == 1
    assert "no registered model" in missing.err
    assert "Traceback" not in missing.err
    bad = cli("models", "register", "f" * 32, "--name", "x")
    assert bad.code == 1
    assert "no run" in bad.err
    no_version = cli("models", "alias", "x", "champion")
    assert no_version.code == 2


@pytest.mark.slow
def test_archive_restore_check_force_and_order(cli: CLI, run_id: str, home: Path) -> None:
    for _ in range(2):
        assert cli("models", "register", run_id, "--name", "churn", "--no-onnx").code == 0
    gates = home / "gates.yaml"
    gates.write_text("gates:\n  - metric: roc_auc >= 0.999\n")
    checked = cli("models", "check", "churn@2", "--gates", str(gates))
    assert checked.code == 1
    assert "FAIL" in checked.out
    no_reason = cli("models", "promote", "churn@2", "--gates", str(gates), "--force")
    assert no_reason.code == 1
    assert "--reason" in no_reason.err
    forced = cli(
        "models", "promote", "churn@2", "--gates", str(gates), "--force", "--reason", "hotfix"
    )
    assert forced.code == 0, forced.err
    assert "FORCED" in forced.out
    assert "hotfix" in words(cli("models", "history", "churn").out)
    assert cli("models", "delete", "churn").code == 1  # a bare name is not enough
    assert cli("models", "archive", "churn@1", "--reason", "old").code == 0
    archived = cli("models", "list", "churn", "--status", "archived", "--json")
    assert [v["version"] for v in json.loads(archived.out)] == [1]
    assert cli("models", "restore", "churn@1").code == 0
    ordered = cli("models", "list", "--order-by", "version ASC", "--json")
    assert [v["version"] for v in json.loads(ordered.out)] == [1, 2]
