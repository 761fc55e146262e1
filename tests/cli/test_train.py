"""``modelyard train``: live progress, a leaderboard table, JSON, and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.data import make_churn
from tests.cli.conftest import Result, words

CLI = Callable[..., Result]
# Two trials (each family's default once) and small forests: the tests check the
# command, not the search. ``--trials`` in a test overrides the spec's budget.
SPEC = """
families: {linear: {}, lightgbm: {n_estimators: {low: 20, high: 60}}}
cv: {folds: 3}
tuning: {trials: 2}
ensembles: {average: false}
"""


@pytest.fixture
def churn(cli: CLI, home: Path) -> Path:
    make_churn(500, seed=1).drop(columns=["name", "email", "phone"]).to_csv(
        home / "c.csv", index=False
    )
    assert cli("data", "ingest", "c.csv", "--name", "churn", "--no-profile").code == 0
    (home / "train.yaml").write_text(SPEC)
    return home


def test_train_prints_the_leaderboard_and_the_choice(cli: CLI, churn: Path) -> None:
    result = cli(
        "train",
        "--data",
        "churn@latest",
        "--target",
        "churned",
        "--spec",
        "train.yaml",
        "--trials",
        "3",
        "--time-budget",
        "5m",
    )
    assert result.code == 0, result.err
    text = words(result.out)
    assert "leaderboard (roc_auc, binary)" in text
    assert "linear" in text
    assert "lightgbm" in text
    assert "chosen:" in text
    assert "holdout: roc_auc" in text
    runs = json.loads(cli("runs", "list", "-e", "train-churn", "--json").out)["runs"]
    assert len(runs) == 4  # the job and its three trials


def test_train_json(cli: CLI, churn: Path) -> None:
    result = cli(
        "train", "--data", "churn", "--target", "churned", "--spec", "train.yaml", "--json"
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["task"] == "binary"
    assert doc["chosen"] in {"linear", "lightgbm"}
    assert {row["candidate"] for row in doc["leaderboard"]} == {"linear", "lightgbm"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "nope"), "target column 'nope' is not in the data"),
        (("--target", "churned", "--executor", "dask"), "use one of local, ray"),
        (("--target", "churned", "--time-budget", "soon"), "bad duration"),
        (("--target", "customer_id"), "classes"),
    ],
)
def test_train_errors_are_one_line(
    cli: CLI, churn: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("train", "--data", "churn", "--spec", "train.yaml", *args)
    assert result.code == 1
    assert message in words(result.err)
    assert "Traceback" not in result.err


def test_a_spec_with_an_unknown_family_lists_the_valid_ones(cli: CLI, churn: Path) -> None:
    (churn / "bad.yaml").write_text("families: [svm]\n")
    result = cli("train", "--data", "churn", "--target", "churned", "--spec", "bad.yaml")
    assert result.code == 1
    assert "svm" in result.err
    assert "lightgbm" in result.err
