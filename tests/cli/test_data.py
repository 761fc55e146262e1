"""``modelyard data ...`` end to end, in-process, on a fresh home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.data import make_churn
from tests.cli.conftest import Result, words

RULES = """
rules:
  - not_null: [customer_id]
  - in_set: {column: plan, values: [basic, standard, premium]}
  - in_range: {column: age, min: 18, max: 40}
    on_fail: warn
"""


@pytest.fixture
def churn_csv(home: Path) -> Path:
    path = home / "churn.csv"
    make_churn(500, seed=4).to_csv(path, index=False)
    return path


@pytest.fixture
def masked_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELYARD_MASK_KEY", "ab" * 16)
    return home


def test_ingest_masks_validates_and_prints_the_profile(
    cli: Callable[..., Result], churn_csv: Path, masked_home: Path
) -> None:
    (masked_home / "rules.yaml").write_text(RULES)
    result = cli(
        "data",
        "ingest",
        str(churn_csv),
        "--name",
        "churn",
        "--mask",
        "email=hmac",
        "--mask",
        "phone=drop",
        "--mask",
        "name=redact",
        "--rules",
        "rules.yaml",
    )
    assert result.code == 0, result.err
    out = words(result.out)
    assert "churn@1 500 rows" in out
    assert "rules that failed (warn/quarantine): in_range(age)" in out
    assert "string (hmac)" in out
    assert "tenure_months" in out
    assert "phone" not in out


def test_list_show_diff_query_and_split(cli: Callable[..., Result], home: Path) -> None:
    make_churn(300, seed=1).to_csv(home / "a.csv", index=False)
    make_churn(300, seed=2, drift=1.0).to_csv(home / "b.csv", index=False)
    assert cli("data", "ingest", "a.csv", "--name", "churn", "--no-profile").code == 0
    assert cli("data", "ingest", "b.csv", "--name", "churn", "--no-profile").code == 0
    listing = cli("data", "list")
    assert listing.code == 0
    assert "churn@2" in listing.out
    history = cli("data", "list", "churn")
    assert "churn@1" in history.out
    assert "churn@2" in history.out
    shown = cli("data", "show", "churn@1")
    assert shown.code == 0
    assert "tenure_months" in shown.out
    assert "parent: none" in words(shown.out)
    diff = cli("data", "diff", "churn@1", "churn@2")
    assert diff.code == 0
    assert "tenure_months" in diff.out
    assert "→" in diff.out
    query = cli("data", "query", "SELECT region, count(*) AS n FROM churn@1 GROUP BY 1 ORDER BY 1")
    assert query.code == 0
    assert "region" in query.out
    as_json = cli("data", "query", "SELECT count(*) AS n FROM churn@2", "--json")
    assert json.loads(as_json.out) == [{"n": 300}]
    split = cli(
        "data", "split", "churn@1", "--kind", "stratified", "--by", "churned", "--seed", "3"
    )
    assert split.code == 0
    assert "train 210" in split.out
    assert "splits: default" in words(cli("data", "show", "churn@1").out)


def test_show_json_is_valid_json(cli: Callable[..., Result], churn_csv: Path) -> None:
    assert cli("data", "ingest", str(churn_csv), "--name", "churn", "--json").code == 0
    doc = json.loads(cli("data", "show", "churn", "--json").out)
    assert doc["ref"] == "churn@1"
    assert doc["num_rows"] == 500
    age = next(c for c in doc["profile"]["columns"] if c["name"] == "age")
    assert age["kind"] == "numeric"


def test_validate_exits_nonzero_on_an_error_rule(
    cli: Callable[..., Result], churn_csv: Path, home: Path
) -> None:
    cli("data", "ingest", str(churn_csv), "--name", "churn", "--no-profile")
    (home / "strict.yaml").write_text("rules:\n  - row_count: {min: 1000}\n")
    result = cli("data", "validate", "churn", "--rules", "strict.yaml")
    assert result.code == 1
    assert "row_count" in result.out
    assert "FAIL" in result.out
    (home / "ok.yaml").write_text("rules:\n  - row_count: {min: 10}\n")
    assert cli("data", "validate", "churn", "--rules", "ok.yaml").code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "show", "nope"), "no dataset named 'nope'"),
        (("data", "ingest", "missing.csv", "--name", "x"), "no such file"),
        (("data", "ingest", "churn.csv", "--name", "x", "--mask", "email"), "COLUMN=POLICY"),
        (("data", "ingest", "churn.csv", "--name", "x", "--mask", "email=scramble"), "scramble"),
        (
            ("data", "ingest", "churn.csv", "--name", "x", "--mask", "email=hmac"),
            "MODELYARD_MASK_KEY",
        ),
        (("data", "query", "SELECT * FROM read_csv('/etc/passwd')"), "may only read datasets"),
        (("data", "split", "churn", "--fractions", "train=x"), "PART=FRACTION"),
    ],
)
def test_errors_are_one_clear_line(
    cli: Callable[..., Result], churn_csv: Path, args: tuple[str, ...], message: str
) -> None:
    cli("data", "ingest", str(churn_csv), "--name", "churn", "--no-profile")
    result = cli(*args)
    assert result.code == 1
    assert message in words(result.err)
    assert "Traceback" not in result.err


def test_diff_shows_added_removed_and_retyped_columns(
    cli: Callable[..., Result], home: Path
) -> None:
    (home / "a.csv").write_text("id,age,city\n1,30,Oslo\n2,40,Lima\n")
    (home / "b.csv").write_text("id,age,score\n1,x,0.5\n2,y,0.7\n3,z,0.1\n")
    cli("data", "ingest", "a.csv", "--name", "t", "--no-profile")
    cli("data", "ingest", "b.csv", "--name", "t", "--no-profile")
    result = cli("data", "diff", "t@1", "t@2")
    out = words(result.out)
    assert result.code == 0
    assert "rows: 2 → 3 (+1)" in out
    assert "city │ removed" in out
    assert "score │ added" in out
    assert "type int64 → string" in out
