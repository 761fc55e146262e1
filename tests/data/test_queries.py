"""SQL over dataset versions in DuckDB, and what a query may not do."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.data import DataClient, make_churn
from modelyard.data.queries import MAX_QUERY_CHARS, rewrite_refs
from modelyard.exceptions import NotFoundError, ValidationError


@pytest.fixture
def churn(data: DataClient) -> DataClient:
    data.ingest(make_churn(400, seed=1), "churn")
    data.ingest(make_churn(200, seed=2), "churn")
    return data


def test_group_by_over_a_named_version(churn: DataClient) -> None:
    result = churn.query(
        "SELECT region, avg(tenure_months) AS tenure, count(*) AS n FROM churn@1 GROUP BY 1 ORDER BY 1"
    )
    expected = (
        make_churn(400, seed=1)
        .groupby("region")["tenure_months"]
        .agg(["mean", "count"])
        .sort_index()
    )
    assert result.column("region").to_pylist() == expected.index.tolist()
    assert result.column("tenure").to_pylist() == pytest.approx(expected["mean"].tolist())
    assert sum(result.column("n").to_pylist()) == 400


def test_bare_names_are_the_latest_version_and_versions_join(churn: DataClient) -> None:
    assert churn.query("SELECT count(*) AS n FROM churn").to_pylist() == [{"n": 200}]
    joined = churn.query(
        "SELECT count(*) AS n FROM churn@1 a JOIN churn@2 b ON a.customer_id = b.customer_id"
    )
    assert joined.to_pylist()[0]["n"] > 0
    with_cte = churn.query("WITH x AS (SELECT * FROM churn@2) SELECT count(*) AS n FROM x")
    assert with_cte.to_pylist() == [{"n": 200}]


def test_refs_inside_strings_and_comments_are_left_alone() -> None:
    sql = "SELECT 'a@1' AS s, \"col@2\" FROM churn@3 -- churn@4\nWHERE x = 'churn@5'"
    assert rewrite_refs(sql) == (
        "SELECT 'a@1' AS s, \"col@2\" FROM \"churn@3\" -- churn@4\nWHERE x = 'churn@5'"
    )


def test_a_missing_version_lists_the_versions(churn: DataClient) -> None:
    with pytest.raises(NotFoundError, match="versions: 1-2"):
        churn.query("SELECT * FROM churn@9")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM churn@1 WHERE EXISTS (SELECT * FROM read_text('/etc/hostname'))",
        "COPY (SELECT 1) TO '/tmp/modelyard-evil.csv'",
        "ATTACH '/tmp/modelyard-evil.db' AS evil",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
    ],
)
def test_a_query_cannot_touch_files_settings_or_extensions(churn: DataClient, sql: str) -> None:
    with pytest.raises(ValidationError):
        churn.query(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELEC * FROM churn", "does not parse"),
        ("SELECT nope FROM churn@1", "the query failed"),
        ("x" * (MAX_QUERY_CHARS + 1), "the limit"),
    ],
)
def test_bad_queries_get_clear_errors(churn: DataClient, sql: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        churn.query(sql)


def test_query_result_converts_to_pandas(churn: DataClient) -> None:
    frame = churn.query("SELECT plan, count(*) AS n FROM churn@2 GROUP BY plan").to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert frame["n"].sum() == 200
