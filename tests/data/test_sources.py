"""Sources: CSV, Parquet, JSON lines, fsspec URLs, SQL on SQLite and PostgreSQL; bad input."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text

from modelyard.data import DataClient, SourceOptions, open_source, parse_dtypes
from modelyard.exceptions import NotFoundError, StoreError, ValidationError


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(n),
            "city": [("Oslo", "Lima", "Pune")[i % 3] for i in range(n)],
            "x": [i / 4 for i in range(n)],
        }
    )


# -- CSV ------------------------------------------------------------------------
def test_csv_types_are_inferred_and_can_be_overridden(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows(20).to_csv(path, index=False)
    inferred = data.ingest(path, "t")
    assert [str(f.type) for f in inferred.schema] == ["int64", "string", "double"]
    typed = data.ingest(path, "t2", dtypes="id=int32,city=category,x=float32")
    assert str(typed.schema.field("id").type) == "int32"
    assert pa.types.is_dictionary(typed.schema.field("city").type)
    assert typed.source["dtypes"]["x"] == "float"


def test_a_type_override_for_an_unknown_column_lists_the_columns(
    data: DataClient, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv"
    rows(5).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="available columns: id, city, x"):
        data.ingest(path, "t", dtypes={"ciyt": "string"})
    with pytest.raises(ValidationError, match="unknown column type 'integr'"):
        data.ingest(path, "t", dtypes={"id": "integr"})


def test_a_malformed_row_names_the_file_and_line(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(ValidationError, match=r"bad\.csv, line 4: malformed CSV row") as info:
        data.ingest(path, "t")
    assert "--on-bad-lines skip" in str(info.value)
    assert data.list_datasets() == []


def test_skipping_bad_lines_records_how_many(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n7,8\n4,5,6\n1,2,3,4\n9,10,11\n")
    ds = data.ingest(path, "t", on_bad_lines="skip")
    assert (ds.num_rows, ds.bad_lines) == (3, 2)
    assert ds.source["on_bad_lines"] == "skip"


@pytest.mark.parametrize("content", ["", "a,b\n"], ids=["empty", "header-only"])
def test_an_empty_file_is_refused(data: DataClient, tmp_path: Path, content: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(content)
    with pytest.raises(ValidationError, match=r"empty|no rows"):
        data.ingest(path, "e")
    assert data.list_datasets() == []


def test_a_column_of_mixed_types_says_how_to_declare_it(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    lines = ["n"] + [str(i) for i in range(5000)] + ["oops"]
    path.write_text("\n".join(lines) + "\n")
    options = SourceOptions(block_size=1024)
    with pytest.raises(ValidationError, match=r"mixed types.*--schema"):
        list(open_source(str(path), options).batches())
    ds = data.ingest(path, "mixed", dtypes={"n": "string"})
    assert ds.num_rows == 5001


def test_tsv_and_gzip_and_unicode(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "t.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("name\tcount\nZoë 🚀\t1\n東京\t2\n")
    ds = data.ingest(path, "t")
    assert ds.to_pandas()["name"].tolist() == ["Zoë 🚀", "東京"]


def test_huge_fields_and_hostile_content_are_just_data(data: DataClient, tmp_path: Path) -> None:
    big = "x" * 2_000_000
    df = pd.DataFrame(
        {"text": [big, "'; DROP TABLE datasets; --", "<script>alert(1)</script>", "\x00nul"]}
    )
    ds = data.ingest(df, "hostile")
    assert ds.to_pandas()["text"].tolist() == df["text"].tolist()


# -- other formats ---------------------------------------------------------------
def test_parquet_in_batches_with_overrides(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(rows(1000), preserve_index=False), path, row_group_size=100)
    ds = data.ingest(path, "t", dtypes={"id": "int32"})
    assert ds.num_rows == 1000
    assert str(ds.schema.field("id").type) == "int32"


def test_jsonl_lines_and_a_bad_line(data: DataClient, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n')
    ds = data.ingest(path, "t")
    assert ds.to_arrow().to_pydict() == {"a": [1, 2], "b": ["x", None]}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValidationError, match="not valid JSON lines"):
        data.ingest(bad, "bad")


def test_an_fsspec_url_source(data: DataClient) -> None:
    with fsspec.open("memory://bucket/data.csv", "w") as handle:
        rows(30).to_csv(handle, index=False)
    ds = data.ingest("memory://bucket/data.csv", "remote")
    assert ds.num_rows == 30
    assert ds.source["location"] == "memory://bucket/data.csv"


def test_paths_that_are_not_regular_files_are_refused(data: DataClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        data.ingest(tmp_path / "missing.csv", "t")
    with pytest.raises(ValidationError, match="not a regular file"):
        data.ingest(tmp_path, "t")
    with pytest.raises(ValidationError, match="not a regular file"):
        data.ingest("/dev/zero", "t", format="csv")
    with pytest.raises(ValidationError, match="NUL"):
        data.ingest("a\0b.csv", "t")
    with pytest.raises(ValidationError, match="cannot tell the format"):
        (tmp_path / "noext").write_text("a\n1\n")
        data.ingest(tmp_path / "noext", "t")
    with pytest.raises(ValidationError, match="cannot ingest a int"):
        data.ingest(42, "t")


def test_parse_dtypes_keeps_commas_inside_brackets() -> None:
    parsed = parse_dtypes("t=timestamp[ms, UTC],n=int64")
    assert parsed == {"t": pa.timestamp("ms", tz="UTC"), "n": pa.int64()}
    with pytest.raises(ValidationError, match="COLUMN=TYPE"):
        parse_dtypes("justaname")


# -- SQL ---------------------------------------------------------------------------
def _sqlite_table(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'src.db'}"
    engine = create_engine(url)
    rows(2500).to_sql("events", engine, index=False)
    engine.dispose()
    return url


def test_sql_query_on_sqlite_streams_in_chunks(data: DataClient, tmp_path: Path) -> None:
    url = _sqlite_table(tmp_path)
    source = open_source(url, SourceOptions(query="SELECT * FROM events", batch_rows=1000))
    assert [b.num_rows for b in source.batches()] == [1000, 1000, 500]
    ds = data.ingest(url, "events", query="SELECT id, city FROM events WHERE id < 100")
    assert ds.num_rows == 100
    assert ds.source == {
        "kind": "sql",
        "location": url,
        "query": "SELECT id, city FROM events WHERE id < 100",
    }


@pytest.mark.postgres
def test_sql_query_on_postgresql(data: DataClient, pg_database: Callable[[], str]) -> None:
    url = pg_database()
    engine = create_engine(url)
    rows(300).to_sql("events", engine, index=False)
    engine.dispose()
    ds = data.ingest(url, "pg_events", query="SELECT * FROM events ORDER BY id")
    assert ds.num_rows == 300
    assert ds.to_pandas()["city"].tolist()[:3] == ["Oslo", "Lima", "Pune"]


def test_sql_errors_are_clear(data: DataClient, tmp_path: Path) -> None:
    url = _sqlite_table(tmp_path)
    with pytest.raises(ValidationError, match="query='SELECT"):
        data.ingest(url, "t")
    with pytest.raises(ValidationError, match="the query failed"):
        data.ingest(url, "t", query="SELECT * FROM no_such_table")
    with pytest.raises(
        StoreError, match=re.escape("cannot query postgresql+psycopg://u:***@127.0.0.1:1/x")
    ):
        data.ingest("postgresql+psycopg://u:secret@127.0.0.1:1/x", "t", query="SELECT 1")
    assert data.list_datasets() == []


def test_sql_column_with_mixed_values_is_cast_to_the_first_chunk_type(
    data: DataClient, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v)"))
        conn.execute(text("INSERT INTO t VALUES (1), (2), ('three')"))
    engine.dispose()
    with pytest.raises(ValidationError, match="'v'"):
        data.ingest(url, "t", query="SELECT v FROM t")
    ds = data.ingest(url, "t", query="SELECT v FROM t", dtypes={"v": "string"})
    assert ds.to_pandas()["v"].tolist() == ["1", "2", "three"]


def test_a_dataframe_with_an_object_column_of_mixed_types(data: DataClient) -> None:
    df = pd.DataFrame({"v": [1, "a", 2.5]})
    with pytest.raises(ValidationError, match="mixed types"):
        data.ingest(df, "t")
    assert data.list_datasets() == []


def test_an_unknown_bad_lines_policy_is_refused(data: DataClient) -> None:
    with pytest.raises(ValidationError, match="on_bad_lines='maybe' is not valid"):
        data.ingest(rows(3), "t", on_bad_lines="maybe")
