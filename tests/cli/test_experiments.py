"""``modelyard experiments list``."""

from __future__ import annotations

import json
from collections.abc import Callable

from modelyard.tracking import TrackingClient
from tests.cli.conftest import Populated, Result

CLI = Callable[..., Result]


def test_no_experiments_says_how_to_start(cli: CLI) -> None:
    result = cli("experiments", "list")
    assert result.code == 0
    assert "No experiments yet" in result.out
    assert "modelyard demo" in result.out


def test_no_experiments_as_json_is_an_empty_list(cli: CLI) -> None:
    result = cli("experiments", "list", "--json")
    assert result.code == 0
    assert json.loads(result.out) == []


def test_table_lists_every_experiment(cli: CLI, populated: Populated) -> None:
    result = cli("experiments", "list")
    assert result.code == 0
    assert "Experiments" in result.out
    assert "churn" in result.out
    assert "other" in result.out
    assert result.err == ""


def test_json_has_ids_names_and_tags(cli: CLI, populated: Populated) -> None:
    found = json.loads(cli("experiments", "list", "--json").out)
    assert [e["name"] for e in found] == ["churn", "other"]
    for exp in found:
        assert isinstance(exp["experiment_id"], int)
        assert exp["tags"] == {}
        assert exp["lifecycle_stage"] == "active"
        assert isinstance(exp["created_at"], int)


def test_names_with_markup_are_printed_verbatim(cli: CLI, tracking: TrackingClient) -> None:
    tracking.get_or_create_experiment("[bold]loud[/]")
    tracking.get_or_create_experiment("[/]")
    result = cli("experiments", "list")
    assert result.code == 0
    assert "[bold]loud[/]" in result.out
    assert "│ [/]" in result.out
