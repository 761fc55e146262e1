"""Evaluation stored on versions, promotion gates, promote with and without force, cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.exceptions import ValidationError
from modelyard.registry import (
    check_version_gates,
    evaluate_version,
    promote_version,
    write_model_card,
)
from tests.registry.conftest import Home

GATES = """
gates:
  - metric: roc_auc >= 0.5
  - no_regression: {vs: champion, metric: roc_auc, tolerance: 0.005}
  - fairness: {column: region, demographic_parity_difference: <= 0.9}
  - latency: {p99_ms: <= 5000, format: onnx}
  - size: {mb: <= 50}
"""


@pytest.fixture(scope="module")
def versions(home: Home) -> Home:
    home.registry.register(home.result, "promo")
    home.registry.register(home.result, "promo")
    return home


def test_evaluation_is_stored_on_the_version(versions: Home) -> None:
    doc = evaluate_version(versions.registry, "promo@1", sensitive="region", slices=["plan"])
    stored = versions.registry.get("promo@1").evaluation
    assert stored is not None
    assert stored["metrics"] == doc["metrics"]
    assert stored["data"] == "churn@1"
    holdout_rows = versions.registry.get("promo@1").lineage["holdout_rows"]
    assert doc["rows"] == holdout_rows
    assert doc["metrics"]["roc_auc"]["value"] == pytest.approx(
        versions.result.holdout["roc_auc"], abs=1e-9
    )
    assert {g["group"] for g in doc["fairness"]["groups"]} <= set(versions.frame["region"])
    assert "plan" in doc["slices"]
    json.dumps(stored, allow_nan=False)


def test_a_sensitive_column_not_in_the_data_is_refused(versions: Home) -> None:
    with pytest.raises(ValidationError, match="regoin"):
        evaluate_version(versions.registry, "promo@1", sensitive="regoin", explain=False)


def test_promotion_moves_the_alias_only_when_every_gate_passes(versions: Home) -> None:
    reg = versions.registry
    first = promote_version(reg, "promo@1", gates=GATES)
    assert first.promoted
    assert first.previous is None
    assert [r["passed"] for r in first.gates["results"]] == [True] * 5
    assert reg.get("promo@champion").version == 1
    assert reg.get("promo@1").gates["passed"] is True
    # Same model, so no regression; a gate that cannot pass blocks the move.
    strict = GATES + "  - metric: roc_auc >= 0.999\n"
    blocked = promote_version(reg, "promo@2", gates=strict)
    assert not blocked.promoted
    failed = [r for r in blocked.gates["results"] if not r["passed"]]
    assert len(failed) == 1
    assert "0.999" in failed[0]["reason"]
    assert reg.get("promo@champion").version == 1
    assert reg.get("promo@2").gates["passed"] is False


def test_no_regression_scores_the_champion_on_the_same_rows(versions: Home) -> None:
    doc = check_version_gates(
        versions.registry,
        "promo@2",
        [{"no_regression": {"vs": "champion", "metric": "roc_auc", "tolerance": 0.0}}],
    )
    assert doc["passed"]
    assert any("same holdout rows" in note for note in doc["notes"])


def test_force_needs_a_reason_and_is_recorded(versions: Home) -> None:
    reg = versions.registry
    impossible = [{"metric": "roc_auc >= 0.9999"}]
    with pytest.raises(ValidationError, match="--reason"):
        promote_version(reg, "promo@2", gates=impossible, force=True)
    forced = promote_version(
        reg, "promo@2", gates=impossible, force=True, reason="hotfix approved by ana"
    )
    assert forced.promoted
    assert forced.previous == 1
    assert forced.gates["forced"]
    move = [e for e in reg.history("promo") if e.kind == "alias"][-1]
    assert (move.from_value, move.to_value, move.reason) == ("1", "2", "hotfix approved by ana")
    assert reg.get("promo@2").gates["reason"] == "hotfix approved by ana"


def test_unknown_gates_and_metrics_are_refused(versions: Home) -> None:
    with pytest.raises(ValidationError, match="gate"):
        check_version_gates(versions.registry, "promo@1", [{"latancy": {"p99_ms": "<= 5"}}])
    with pytest.raises(ValidationError, match="roc_auc"):
        check_version_gates(versions.registry, "promo@1", [{"metric": "rmse >= 0.5"}])


def test_the_card_is_written_as_html_and_markdown(versions: Home, tmp_path: Path) -> None:
    html = tmp_path / "card.html"
    card = write_model_card(versions.registry, "promo@1", html, intended_use="Churn outreach")
    text = html.read_text()
    assert "promo@1" in text
    assert "Churn outreach" in text
    assert "<svg" in text
    assert "churn@1" in card.markdown
    md = tmp_path / "card.md"
    write_model_card(versions.registry, "promo@1", md)
    assert md.read_text().startswith("#")


def test_explicit_data_that_cannot_be_loaded_is_an_error(versions: Home) -> None:
    from modelyard.exceptions import NotFoundError

    with pytest.raises(NotFoundError, match="churn"):
        check_version_gates(
            versions.registry, "promo@1", [{"metric": "roc_auc >= 0.5"}], data="churn@9"
        )
