"""Datasets end to end: ingest, versions, identity, append, masking, rules, lineage."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from modelyard.data import DataClient, make_churn
from modelyard.exceptions import (
    ConfigError,
    DataQualityError,
    NotFoundError,
    ValidationError,
)
from tests.data.conftest import blob_files, make_client


def frame(n: int = 100, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"c{i:05d}" for i in range(offset, offset + n)],
            "age": [20 + (i % 50) for i in range(offset, offset + n)],
            "plan": [("basic", "premium")[i % 2] for i in range(offset, offset + n)],
            "spend": [float(i) * 1.5 for i in range(offset, offset + n)],
        }
    )


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    df.to_csv(path, index=False)
    return path


# -- versions and identity ------------------------------------------------------
def test_ingest_makes_version_one_with_schema_rows_hash_and_profile(
    any_data: DataClient, tmp_path: Path
) -> None:
    ds = any_data.ingest(write_csv(tmp_path / "a.csv", frame()), "customers")
    assert (ds.name, ds.version, ds.ref, ds.num_rows) == ("customers", 1, "customers@1", 100)
    assert ds.columns == ["id", "age", "plan", "spend"]
    assert ds.schema.field("age").type == pa.int64()
    assert len(ds.content_hash) == 64
    assert ds.parent_version is None
    assert ds.created_by == "tester"
    assert ds.source["kind"] == "csv"
    assert ds.source["location"].endswith("a.csv")
    assert ds.profile.columns["age"].min == 20
    assert ds.profile.columns["age"].max == 69
    assert ds.profile.num_rows == 100
    pd.testing.assert_frame_equal(ds.to_pandas(), frame())


def test_get_by_name_number_latest_and_hash(any_data: DataClient, tmp_path: Path) -> None:
    first = any_data.ingest(frame(10), "c")
    second = any_data.ingest(frame(20), "c")
    assert any_data.get("c").version == 2
    assert any_data.get("c@latest").version == 2
    assert any_data.get("c@1").content_hash == first.content_hash
    assert any_data.get(f"c@{second.content_hash[:10]}").version == 2
    assert second.parent_version == 1


def test_identical_data_gives_the_same_version_and_no_new_blob(
    data: DataClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "a.csv", frame())
    first = data.ingest(path, "c")
    stored = blob_files(tmp_path)
    again = data.ingest(path, "c")
    assert (again.version, again.content_hash) == (first.version, first.content_hash)
    assert blob_files(tmp_path) == stored
    assert [d.version for d in data.versions("c")] == [1]


def test_same_content_in_another_dataset_shares_the_blob(data: DataClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", frame())
    a = data.ingest(path, "a")
    parts_before = {p["sha256"] for p in a.parts}
    b = data.ingest(path, "b")
    assert {p["sha256"] for p in b.parts} == parts_before
    assert a.content_hash == b.content_hash


def test_missing_dataset_and_version_errors_list_what_exists(data: DataClient) -> None:
    with pytest.raises(NotFoundError, match="there are no datasets yet"):
        data.get("nope")
    data.ingest(frame(5), "c")
    data.ingest(frame(6), "c")
    with pytest.raises(NotFoundError, match=r"no version 7; versions: 1-2"):
        data.get("c@7")
    with pytest.raises(NotFoundError, match="datasets: c"):
        data.get("other")
    with pytest.raises(NotFoundError, match="content hash starts with"):
        data.get("c@deadbeefdeadbeef")


@pytest.mark.parametrize("ref", ["", "1abc", "a b", "c@", "c@-1", "c@0", "c@x", "../etc", "c@3@4"])
def test_bad_references_are_refused(data: DataClient, ref: str) -> None:
    with pytest.raises(ValidationError):
        data.get(ref)


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 200, "name;drop", "é"])
def test_bad_dataset_names_are_refused_and_nothing_is_written(
    data: DataClient, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationError):
        data.ingest(frame(3), name)
    assert data.list_datasets() == []


def test_list_datasets_shows_the_latest_of_each(data: DataClient) -> None:
    data.ingest(frame(3), "b")
    data.ingest(frame(3), "a")
    data.ingest(frame(4), "a")
    assert [(d.name, d.version) for d in data.list_datasets()] == [("a", 2), ("b", 1)]


def test_scan_streams_batches_in_order(data: DataClient) -> None:
    ds = data.ingest(frame(1000), "c")
    batches = list(ds.scan(batch_rows=300, columns=["id"]))
    assert all(b.num_rows <= 300 for b in batches)
    ids = [v for b in batches for v in b.column("id").to_pylist()]
    assert ids == frame(1000)["id"].tolist()
    with pytest.raises(ValidationError, match="no column"):
        list(ds.scan(columns=["missing"]))


# -- append -----------------------------------------------------------------------
def test_append_adds_a_part_and_merges_the_profile(any_data: DataClient) -> None:
    base = any_data.ingest(frame(100), "c")
    grown = any_data.append("c", frame(50, offset=100))
    assert (grown.version, grown.parent_version, grown.num_rows) == (2, 1, 150)
    assert grown.parts[0] == base.parts[0]
    assert len(grown.parts) == 2
    assert grown.profile.columns["spend"].max == pytest.approx(149 * 1.5)
    assert grown.profile.columns["id"].count == 150
    assert grown.to_pandas()["id"].tolist() == frame(150)["id"].tolist()


def test_append_refuses_extra_columns_and_mistyped_values(data: DataClient) -> None:
    data.ingest(frame(10), "c")
    extra = frame(5).assign(new_col=1)
    with pytest.raises(ValidationError, match="new_col"):
        data.append("c", extra)
    wrong = frame(5).assign(age=["x"] * 5)
    with pytest.raises(ValidationError, match="'age'"):
        data.append("c", wrong)
    assert [d.version for d in data.versions("c")] == [1]


def test_append_to_a_new_dataset_creates_it(data: DataClient) -> None:
    ds = data.append("fresh", frame(3))
    assert (ds.version, ds.num_rows) == (1, 3)


def test_concurrent_appends_get_consecutive_versions(any_data: DataClient) -> None:
    any_data.ingest(frame(10), "c")
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            any_data.append("c", frame(5, offset=100 + 5 * i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = any_data.versions("c")
    assert [v.version for v in versions] == [1, 2, 3, 4, 5]
    assert [v.parent_version for v in versions] == [None, 1, 2, 3, 4]
    assert versions[-1].num_rows == 30
    assert len(set(versions[-1].to_pandas()["id"])) == 30


# -- masking ----------------------------------------------------------------------
def test_masked_raw_values_never_reach_the_artifact_store(data: DataClient, tmp_path: Path) -> None:
    df = make_churn(300, seed=3)
    path = tmp_path / "churn.csv"
    df.to_csv(path, index=False)
    ds = data.ingest(
        path,
        "churn",
        mask={"email": "hmac", "name": "redact", "phone": "drop", "customer_id": "hmac"},
    )
    assert "phone" not in ds.columns
    assert ds.masking == {"email": "hmac", "name": "redact", "phone": "drop", "customer_id": "hmac"}
    stored = b"".join(p.read_bytes() for p in blob_files(tmp_path))
    for column in ("email", "name", "phone", "customer_id"):
        for raw in df[column].astype(str).head(100):
            assert raw.encode() not in stored, f"raw {column} value {raw!r} was stored"
    emails = ds.to_pandas()["email"]
    assert emails.str.fullmatch(r"[0-9a-f]{64}").all()
    # Deterministic: the same value and key give the same token, so masked columns join.
    again = data.ingest(df.head(10), "churn-copy", mask={"email": "hmac"})
    assert again.to_pandas()["email"].tolist() == emails.head(10).tolist()


def test_hmac_without_a_key_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    client = make_client(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    try:
        with pytest.raises(ConfigError, match="MODELYARD_MASK_KEY"):
            client.ingest(frame(5), "c", mask={"id": "hmac"})
        assert client.list_datasets() == []
        assert blob_files(tmp_path) == []
    finally:
        client.close()


def test_a_mask_on_an_unknown_column_lists_the_columns(data: DataClient) -> None:
    with pytest.raises(ValidationError, match="available columns: id, age, plan, spend"):
        data.ingest(frame(5), "c", mask={"emial": "hmac"})


def test_append_masks_new_rows_with_the_dataset_policies(data: DataClient, tmp_path: Path) -> None:
    data.ingest(frame(10), "c", mask={"id": "hmac"})
    grown = data.append("c", frame(5, offset=500))
    assert grown.masking == {"id": "hmac"}
    stored = b"".join(p.read_bytes() for p in blob_files(tmp_path))
    assert b"c00500" not in stored
    assert grown.to_pandas()["id"].str.fullmatch(r"[0-9a-f]{64}").all()


# -- rules ------------------------------------------------------------------------
RULES = """
rules:
  - not_null: [id]
  - in_range: {column: age, min: 18, max: 60}
    on_fail: {action}
"""


def test_a_failed_error_rule_leaves_no_version_and_no_blob(
    data: DataClient, tmp_path: Path
) -> None:
    with pytest.raises(DataQualityError) as info:
        data.ingest(frame(), "c", rules=RULES.replace("{action}", "error"))
    failed = info.value.report.failed_with("error")
    assert [r.kind for r in failed] == ["in_range"]
    assert failed[0].failing_count > 0
    assert data.list_datasets() == []
    assert blob_files(tmp_path) == []


def test_a_warn_rule_keeps_every_row_and_records_the_report(data: DataClient) -> None:
    ds = data.ingest(frame(), "c", rules=RULES.replace("{action}", "warn"))
    assert ds.num_rows == 100
    assert ds.validation is not None
    assert ds.validation["passed"] is False


def test_quarantine_moves_failing_rows_to_a_side_dataset(data: DataClient) -> None:
    df = frame()
    ds = data.ingest(df, "c", rules=RULES.replace("{action}", "quarantine"))
    bad = data.get("c.quarantine")
    assert ds.num_rows + bad.num_rows == 100
    assert (ds.to_pandas()["age"] <= 60).all()
    assert (bad.to_pandas()["age"] > 60).all()
    assert bad.source["quarantined_from"] == "c"
    assert ds.profile.columns["age"].max <= 60


def test_a_rule_on_an_unknown_column_lists_the_columns(data: DataClient) -> None:
    with pytest.raises(ValidationError, match="spend"):
        data.ingest(frame(), "c", rules={"rules": [{"not_null": ["nope"]}]})
    assert data.list_datasets() == []


def test_validate_a_stored_version(data: DataClient) -> None:
    data.ingest(frame(), "c")
    report = data.validate("c@1", RULES.replace("{action}", "error"))
    assert not report.passed
    assert report.num_rows == 100


# -- lineage and storage -------------------------------------------------------------
def test_encrypted_store_reads_back_and_keeps_no_plaintext(tmp_path: Path) -> None:
    client = make_client(f"sqlite:///{tmp_path / 'e.db'}", tmp_path, master_key=bytes(range(32)))
    try:
        ds = client.ingest(frame(50), "c")
        stored = b"".join(p.read_bytes() for p in blob_files(tmp_path))
        assert b"c00042" not in stored
        assert b"PAR1" not in stored
        assert client.get("c").to_pandas()["id"].tolist() == frame(50)["id"].tolist()
        assert client.query("SELECT count(*) AS n FROM c@1").to_pylist() == [{"n": 50}]
        assert ds.files()[0].exists()
    finally:
        client.close()


def test_when_every_row_is_quarantined_no_version_is_made(data: DataClient) -> None:
    rules = {"rules": [{"in_range": {"column": "age", "min": 1000}, "on_fail": "quarantine"}]}
    with pytest.raises(DataQualityError, match="every row"):
        data.ingest(frame(20), "c", rules=rules)
    assert [d.ref for d in data.list_datasets()] == ["c.quarantine@1"]
    assert data.get("c.quarantine").num_rows == 20


def test_append_quarantines_only_the_new_rows(data: DataClient) -> None:
    data.ingest(frame(10), "c")
    rules = {"rules": [{"in_range": {"column": "age", "max": 60}, "on_fail": "quarantine"}]}
    grown = data.append("c", frame(50, offset=10), rules=rules)
    bad = data.get("c.quarantine").to_pandas()
    assert (bad["age"] > 60).all()
    assert grown.num_rows + len(bad) == 60
    assert len(grown.to_pandas()) == grown.num_rows  # parts of one schema read as one table
    assert grown.to_arrow().schema == grown.schema
