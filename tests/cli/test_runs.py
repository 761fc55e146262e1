"""``modelyard runs list / show / compare``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from modelyard.tracking import TrackingClient
from tests.cli.conftest import Populated, Result, words

CLI = Callable[..., Result]
BY_AUC = ("--order-by", "metrics.auc DESC")


def rows(out: str) -> list[list[str]]:
    """The body cells of every rich table in ``out``."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]


def header(out: str) -> list[str]:
    """The header cells of the first rich table in ``out``."""
    line = next(line for line in out.splitlines() if "┃" in line)
    return [c.strip() for c in line.split("┃")[1:-1]]


def names(out: str) -> list[str]:
    return [row[1] for row in rows(out)]


def page_token(out: str) -> str | None:
    match = re.search(r"^more: --page-token (\S+)$", out, re.MULTILINE)
    return match[1] if match else None


# -- list ----------------------------------------------------------------------------


def test_list_without_runs(cli: CLI) -> None:
    result = cli("runs", "list")
    assert (result.code, result.out) == (0, "No runs match.\n")


def test_list_without_runs_as_json(cli: CLI) -> None:
    result = cli("runs", "list", "--json")
    assert json.loads(result.out) == {"runs": [], "next_page_token": None}


def test_list_shows_every_experiment_by_default(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", *BY_AUC)
    assert result.code == 0
    assert names(result.out) == ["gamma-run", "alpha-run", "beta-run", "elsewhere-run"]
    assert [row[0] for row in rows(result.out)][:1] == [populated.gamma[:8]]
    assert {row[2] for row in rows(result.out)} == {"FINISHED"}
    assert f"details: modelyard runs show {populated.gamma}" in words(result.out)
    assert page_token(result.out) is None


def test_list_one_experiment(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "-e", "other")
    assert names(result.out) == ["elsewhere-run"]
    result = cli("runs", "list", "-e", "other", "-e", "churn", *BY_AUC)
    assert len(names(result.out)) == 4


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("params.model = 'rf'", ["alpha-run"]),
        ("metrics.auc > 0.9 and tags.team = 'risk'", ["gamma-run", "alpha-run"]),
        ("tags.team = 'growth' or metrics.auc < 0.6", ["beta-run", "elsewhere-run"]),
        ("run_name LIKE 'gam%'", ["gamma-run"]),
    ],
)
def test_list_filter(cli: CLI, populated: Populated, expression: str, expected: list[str]) -> None:
    result = cli("runs", "list", "--filter", expression, *BY_AUC)
    assert result.code == 0
    assert names(result.out) == expected


def test_list_filter_matching_nothing(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "-f", "metrics.auc > 2")
    assert (result.code, result.out) == (0, "No runs match.\n")


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["metrics.auc ASC"], ["beta-run", "alpha-run", "gamma-run"]),
        (["params.model DESC", "metrics.auc"], ["alpha-run", "beta-run", "gamma-run"]),
        (["attributes.run_name"], ["alpha-run", "beta-run", "gamma-run"]),
    ],
)
def test_list_order_by(
    cli: CLI, populated: Populated, order: list[str], expected: list[str]
) -> None:
    args = [arg for clause in order for arg in ("--order-by", clause)]
    assert names(cli("runs", "list", "-e", "churn", *args).out) == expected


def test_list_bad_order_by_is_an_error(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "-o", "metrics.auc SIDEWAYS")
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err


def test_list_picks_the_most_common_metrics_and_says_what_is_hidden(
    cli: CLI, populated: Populated
) -> None:
    result = cli("runs", "list", "-e", "churn")
    assert header(result.out)[5:] == ["auc", "f1", "loss", "precision"]
    assert "1 more metric(s)" in result.out


def test_list_metric_columns_on_request(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "-e", "churn", "--metric", "recall", "-m", "loss", *BY_AUC)
    assert header(result.out)[5:] == ["recall", "loss"]
    assert rows(result.out)[0][5:] == ["0.25", "0.05"]
    assert "3 more metric(s)" in result.out


def test_list_pages_with_the_printed_token(cli: CLI, populated: Populated) -> None:
    first = cli("runs", "list", "--max", "2", *BY_AUC)
    assert names(first.out) == ["gamma-run", "alpha-run"]
    token = page_token(first.out)
    assert token
    second = cli("runs", "list", "--max", "2", "--page-token", token, *BY_AUC)
    assert names(second.out) == ["beta-run", "elsewhere-run"]
    assert page_token(second.out) is None


def test_list_json_pages(cli: CLI, populated: Populated) -> None:
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        args = ["--page-token", token] if token else []
        page = json.loads(cli("runs", "list", "--json", "-n", "3", *BY_AUC, *args).out)
        seen += [run["info"]["name"] for run in page["runs"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == ["gamma-run", "alpha-run", "beta-run", "elsewhere-run"]


def test_list_json_carries_full_runs(cli: CLI, populated: Populated) -> None:
    data = json.loads(cli("runs", "list", "--json", "-f", "params.model = 'rf'").out)
    (run,) = data["runs"]
    assert run["info"]["run_id"] == populated.alpha
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["user_id"] == "tester"
    assert run["data"]["params"] == {"model": "rf", "lr": "0.1"}
    assert run["data"]["metrics"]["auc"] == pytest.approx(0.91)
    assert run["data"]["tags"] == {"team": "risk"}
    assert data["next_page_token"] is None


def test_list_bad_page_token_is_an_error(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "list", "--page-token", "not-a-token")
    assert result.code == 1
    assert result.err.startswith("error: ")


def test_list_indents_child_runs(cli: CLI, tracking: TrackingClient, populated: Populated) -> None:
    with tracking.start_run("churn", run_name="child-run", parent=populated.alpha):
        pass
    assert "└ child-run" in names(cli("runs", "list", "-e", "churn").out)


# -- show ------------------------------------------------------------------------------


def test_show_prints_attributes_params_metrics_tags_and_artifacts(
    cli: CLI, populated: Populated
) -> None:
    result = cli("runs", "show", populated.alpha)
    assert result.code == 0
    assert result.err == ""
    head = dict(line.split(None, 1) for line in result.out.splitlines()[:8])
    assert head["run"].strip() == populated.alpha
    assert head["name"].strip() == "alpha-run"
    assert head["status"].strip() == "FINISHED"
    assert head["user"].strip() == "tester"
    assert head["parent"].strip() == "-"
    cells = {row[0]: row[1:] for row in rows(result.out)}
    assert cells["model"] == ["rf"]
    assert cells["lr"] == ["0.1"]
    assert cells["auc"][:2] == ["0.91", "1"]  # latest, number of steps
    assert cells["recall"][:2] == ["0.25", "1"]
    assert cells["team"] == ["risk"]
    assert cells["notes.txt"][0] == "2"
    for title in ("Params", "Metrics", "Tags", "Artifacts"):
        assert title in words(result.out)


def test_show_leaves_out_empty_sections(cli: CLI, tracking: TrackingClient) -> None:
    with tracking.start_run("bare", run_name="bare-run") as run:
        pass
    result = cli("runs", "show", run.run_id)
    assert result.code == 0
    for title in ("Params", "Metrics", "Tags", "Artifacts"):
        assert title not in result.out


def test_show_names_the_parent(cli: CLI, tracking: TrackingClient, populated: Populated) -> None:
    with tracking.start_run("churn", run_name="child-run", parent=populated.alpha) as child:
        pass
    assert f"parent {populated.alpha}" in words(cli("runs", "show", child.run_id).out)


def test_show_json(cli: CLI, populated: Populated) -> None:
    data = json.loads(cli("runs", "show", populated.beta, "--json").out)
    assert data["info"]["run_id"] == populated.beta
    assert data["info"]["name"] == "beta-run"
    assert data["data"]["params"] == {"model": "lr", "lr": "0.1"}
    assert data["data"]["tags"] == {"team": "growth"}
    assert set(data["data"]["metrics"]) == {"auc", "loss", "f1", "precision", "recall"}
    (artifact,) = data["artifacts"]
    assert artifact["path"] == "notes.txt"
    assert artifact["size"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", artifact["blob"])


def test_json_output_is_strict_json(cli: CLI, tracking: TrackingClient) -> None:
    with tracking.start_run("odd", run_name="odd-values") as run:
        run.log_metrics({"nan": float("nan"), "up": float("inf"), "down": float("-inf")})
    for args in (("runs", "show", run.run_id, "--json"), ("runs", "list", "--json")):
        out = cli(*args).out
        assert "NaN" not in out
        assert "Infinity" not in out
        data = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
        run_data = data["data"] if "data" in data else data["runs"][0]["data"]
        assert run_data["metrics"] == {"nan": None, "up": "inf", "down": "-inf"}


def test_show_prints_markup_verbatim(cli: CLI, tracking: TrackingClient) -> None:
    with tracking.start_run("exp", run_name="[/]") as run:
        run.log_params({"p": "[bold red]loud[/]"})
        run.set_tags({"t": "[link=x]y"})
        run.log_text("x", "dir/[a].txt")
    result = cli("runs", "show", run.run_id)
    assert result.code == 0, result.err
    text = words(result.out)
    for raw in ("name [/]", "[bold red]loud[/]", "[link=x]y", "dir/[a].txt"):
        assert raw in text


# -- compare ------------------------------------------------------------------------------


def test_compare_puts_params_and_metrics_side_by_side(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "compare", populated.alpha, populated.beta)
    assert result.code == 0
    assert header(result.out)[1:] == ["alpha-run", "beta-run"]
    cells = {row[0]: row[1:] for row in rows(result.out) if row[0]}
    assert cells["status"] == ["FINISHED", "FINISHED"]
    assert cells["params.model"] == ["rf", "lr"]
    assert cells["params.lr"] == ["0.1", "0.1"]
    assert cells["metrics.auc"] == ["0.91", "0.72"]
    assert cells["metrics.loss"] == ["0.09", "0.28"]
    assert populated.alpha[:8] in result.out
    assert populated.beta[:8] in result.out


def test_compare_keys_missing_from_a_run_are_blank(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "compare", populated.gamma, populated.elsewhere, populated.alpha)
    cells = {row[0]: row[1:] for row in rows(result.out) if row[0]}
    assert cells["params.model"] == ["gbm", "", "rf"]
    assert cells["metrics.auc"] == ["0.95", "0.5", "0.91"]


def test_compare_needs_two_runs(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "compare", populated.alpha)
    assert (result.code, result.err) == (1, "error: compare needs at least two run ids\n")


def test_compare_with_an_unknown_run_is_an_error(cli: CLI, populated: Populated) -> None:
    result = cli("runs", "compare", populated.alpha, "f" * 32)
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "f" * 32 in result.err


def test_compare_prints_markup_verbatim(cli: CLI, tracking: TrackingClient) -> None:
    ids = []
    for name in ("[/]", "[b]bold"):
        with tracking.start_run("exp", run_name=name) as run:
            run.log_params({"p": f"[i]{name}"})
            ids.append(run.run_id)
    result = cli("runs", "compare", *ids)
    assert result.code == 0, result.err
    assert header(result.out)[1:] == ["[/]", "[b]bold"]
    assert "[i][/]" in result.out


def test_show_charts_metric_history(cli: CLI, tracking: TrackingClient) -> None:
    with tracking.start_run("hist", run_name="curve") as run:
        for step, loss in enumerate([1.0, 0.5, 0.25, 0.1]):
            run.log_metric("loss", loss, step=step)
    out = cli("runs", "show", run.run_id).out
    assert "█▄▂▁" in out
    assert "Steps" in out
