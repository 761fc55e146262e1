"""Tests for modelyard.data.profile (streaming profiles) and modelyard.data._hll."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import struct
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelyard.data import make_churn
from modelyard.data._hll import HyperLogLog, hash_float64, hash_int64
from modelyard.data.profile import (
    QUANTILES,
    ColumnProfile,
    Profile,
    ProfileBuilder,
    column_kind,
    compare_profiles,
)
from modelyard.exceptions import ValidationError

# --------------------------------------------------------------------------- helpers


def profile_of(data: pa.Table | pa.RecordBatch, batch_rows: int | None = None) -> Profile:
    builder = ProfileBuilder(data.schema)
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    for batch in table.to_batches(max_chunksize=batch_rows):
        builder.update(batch)
    return builder.result()


def builder_of(table: pa.Table) -> ProfileBuilder:
    builder = ProfileBuilder(table.schema)
    builder.update(table)
    return builder


def rel_close(a: float | None, b: float, tol: float = 1e-9) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=tol, abs_tol=1e-12)


def mixed_table(rows: int = 2_000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    floats = rng.normal(10.0, 3.0, rows)
    floats[rng.random(rows) < 0.1] = np.nan  # becomes Arrow null via from_pandas
    ints = pd.array(rng.integers(-1_000, 1_000, rows), dtype="Int64")
    ints[rng.random(rows) < 0.05] = pd.NA
    colours = rng.choice(["red", "green", "blue", None], rows, p=[0.5, 0.3, 0.15, 0.05])
    frame = pd.DataFrame({"x": floats, "n": ints, "colour": colours})
    return pa.Table.from_pandas(frame, preserve_index=False)


# --------------------------------------------------------------------------- HyperLogLog


@pytest.mark.parametrize("distinct", [1_000, 100_000, 1_000_000])
def test_hll_estimate_is_within_3_percent(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    values = rng.permutation(distinct).astype(np.int64) * 7919 + 13
    hll = HyperLogLog()
    hll.add_hashes(hash_int64(np.concatenate([values, values[: distinct // 2]])))
    assert abs(hll.estimate() / distinct - 1) < 0.03


def test_hll_has_no_bias_bump_where_linear_counting_hands_over() -> None:
    # The classic estimator is ~2.5% high near 2.5 * 2**14; Ertl's is not.
    errors = []
    for seed in range(4):
        hll = HyperLogLog()
        hll.add_hashes(hash_int64(np.random.default_rng(seed).integers(0, 2**62, 41_000)))
        errors.append(hll.estimate() / 41_000 - 1)
    assert abs(float(np.mean(errors))) < 0.01


def test_hll_empty_merge_and_round_trip() -> None:
    assert HyperLogLog().estimate() == 0.0
    left, right = HyperLogLog(), HyperLogLog()
    left.add_hashes(hash_int64(np.arange(0, 60_000)))
    right.add_hashes(hash_int64(np.arange(30_000, 90_000)))
    left.merge(right)
    assert abs(left.estimate() / 90_000 - 1) < 0.03
    again = HyperLogLog.from_bytes(left.to_bytes())
    assert again.estimate() == left.estimate()
    left.add_hashes(np.array([], dtype=np.uint64))  # a no-op, not an error
    assert again.estimate() == left.estimate()


def test_hll_from_bytes_rejects_garbage() -> None:
    with pytest.raises(ValidationError, match="16384"):
        HyperLogLog.from_bytes(b"\x00" * 10)
    with pytest.raises(ValidationError, match="exceeds"):
        HyperLogLog.from_bytes(b"\xff" * 16384)


def test_hash_float64_folds_negative_zero_and_is_stable() -> None:
    assert hash_float64(np.array([-0.0]))[0] == hash_float64(np.array([0.0]))[0]
    # A fixed value: profiles stored by one process are merged by another.
    assert int(hash_int64(np.array([1]))[0]) == 0xB456BCFC34C2CB2C


# --------------------------------------------------------------------------- exactness


def test_numeric_stats_match_pandas() -> None:
    table = mixed_table()
    frame = table.to_pandas()
    profile = profile_of(table, batch_rows=300)
    assert profile.num_rows == len(frame)
    for name in ("x", "n"):
        column, series = profile.columns[name], frame[name].dropna().astype(float)
        assert column.kind == "numeric"
        assert column.count == len(frame)
        assert column.null_count == int(frame[name].isna().sum())
        assert column.null_fraction == column.null_count / len(frame)
        assert column.min == series.min()
        assert column.max == series.max()
        assert rel_close(column.mean, float(series.mean()))
        assert rel_close(column.std, float(series.std()))
        assert column.quantiles is not None
        ordered = np.sort(series.to_numpy())
        for key, rank in QUANTILES.items():  # within the KLL rank error (~1.7%)
            found = np.searchsorted(ordered, column.quantiles[key], side="right") / len(ordered)
            assert abs(found - rank) < 0.02, (name, key)
        assert column.distinct is not None
        assert abs(column.distinct - series.nunique()) <= 0.03 * series.nunique()
    assert isinstance(profile.columns["n"].min, int)


def test_histogram_is_exact_on_small_data_and_sums_to_non_null_count() -> None:
    values = np.random.default_rng(3).exponential(2.0, 180)
    column = profile_of(pa.table({"v": values})).columns["v"]
    assert column.histogram is not None
    edges, counts = column.histogram["edges"], column.histogram["counts"]
    assert len(edges) == 21
    assert len(counts) == 20
    assert edges[0] == values.min()
    assert edges[-1] == values.max()
    assert counts == np.histogram(values, bins=np.array(edges))[0].tolist()
    big = profile_of(pa.table({"v": np.random.default_rng(4).normal(size=50_000)}))
    hist = big.columns["v"].histogram
    assert hist is not None
    assert sum(hist["counts"]) == 50_000


def test_histogram_of_a_constant_and_of_extreme_values() -> None:
    constant = profile_of(pa.table({"v": [5.0] * 10})).columns["v"]
    assert constant.histogram == {"edges": [5.0, 5.0], "counts": [10]}
    assert constant.std == 0.0
    extreme = profile_of(pa.table({"v": [-1e308, 1e308, 0.0]})).columns["v"]
    assert extreme.histogram is not None
    assert sum(extreme.histogram["counts"]) == 3
    assert extreme.std is None  # overflowed to inf: reported as unknown, not inf
    json.dumps(Profile(3, {"v": extreme}).to_dict(), allow_nan=False)


def test_int64_extremes_stay_exact() -> None:
    big = 2**63 - 1
    column = profile_of(pa.table({"v": pa.array([-big - 1, 0, big], pa.int64())})).columns["v"]
    assert column.min == -big - 1
    assert column.max == big
    unsigned = profile_of(pa.table({"u": pa.array([0, 2**64 - 1], pa.uint64())})).columns["u"]
    assert unsigned.max == 2**64 - 1
    assert unsigned.distinct == 2


def test_nan_and_inf_are_null_for_statistics() -> None:
    values = [1.0, 2.0, np.nan, np.inf, -np.inf, 3.0, None]
    column = profile_of(pa.table({"v": pa.array(values, pa.float64())})).columns["v"]
    assert (column.nan_count, column.inf_count) == (1, 2)
    assert column.null_count == 4  # one Arrow null + NaN + two infinities
    assert column.null_fraction == 4 / 7
    assert (column.min, column.max, column.mean, column.std) == (1.0, 3.0, 2.0, 1.0)
    assert column.distinct == 3
    assert column.histogram is not None
    assert sum(column.histogram["counts"]) == 3
    only_nan = profile_of(pa.table({"v": pa.array([np.nan, np.inf], pa.float32())})).columns["v"]
    assert only_nan.null_count == 2
    assert only_nan.mean is None
    assert only_nan.distinct == 0


def test_all_null_columns() -> None:
    table = pa.table(
        {
            "f": pa.array([None] * 4, pa.float64()),
            "s": pa.array([None] * 4, pa.string()),
            "b": pa.array([None] * 4, pa.bool_()),
            "z": pa.nulls(4),
        }
    )
    profile = profile_of(table)
    assert ProfileBuilder.from_bytes(builder_of(table).to_bytes()).result() == profile
    for column in profile.columns.values():
        assert (column.count, column.null_count, column.null_fraction) == (4, 4, 1.0)
        assert column.min is None
        assert column.mean is None
        assert column.histogram is None
        assert column.top_values == []
    assert profile.columns["f"].distinct == 0
    assert profile.columns["s"].distinct == 0
    assert profile.columns["z"].kind == "other"
    assert profile.columns["z"].distinct is None
    json.dumps(profile.to_dict(), allow_nan=False)


def test_empty_table_gives_counts_of_zero_and_no_statistics() -> None:
    table = mixed_table().slice(0, 0)
    builder = ProfileBuilder(table.schema)
    untouched = builder.result()
    builder.update(table)
    builder.update(pa.RecordBatch.from_pylist([], schema=table.schema))
    profile = builder.result()
    assert profile == untouched
    assert profile.num_rows == 0
    assert ProfileBuilder.from_bytes(builder.to_bytes()).result() == profile
    for column in profile.columns.values():
        assert (column.count, column.null_count, column.null_fraction) == (0, 0, None)
        assert column.mean is None
        assert column.quantiles is None
        assert column.top_values == []
    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False))) == profile
    empty = ProfileBuilder(pa.schema([]))
    empty.update(pa.table({}))
    assert empty.result() == Profile(num_rows=0, columns={})


# --------------------------------------------------------------------------- categorical


def test_top_values_on_a_known_distribution_across_batches() -> None:
    values = ["a"] * 500 + ["b"] * 300 + ["c"] * 200 + [f"rare{i}" for i in range(50)] + [None] * 7
    values = [values[i] for i in np.random.default_rng(5).permutation(len(values))]
    column = profile_of(pa.table({"s": values}), batch_rows=97).columns["s"]
    assert column.kind == "categorical"
    assert column.top_values[:3] == [("a", 500), ("b", 300), ("c", 200)]
    assert len(column.top_values) == 10
    assert column.null_count == 7
    assert column.distinct == 53
    assert column.identifier_like is False
    assert column.mean is None


def test_dictionary_strings_are_categorical_and_hash_like_plain_strings() -> None:
    values = [f"v{i % 700}" for i in range(5_000)] + [None]
    table = pa.table({"plain": values, "dict": pa.array(values).dictionary_encode()})
    profile = profile_of(table, batch_rows=1_234)
    plain, encoded = profile.columns["plain"], profile.columns["dict"]
    assert encoded.kind == "categorical"
    assert encoded.top_values == plain.top_values
    assert encoded.distinct == plain.distinct
    assert abs((plain.distinct or 0) - 700) <= 14


def test_large_string_and_string_view_columns() -> None:
    values = ["x", "y", "y", None]
    table = pa.table(
        {"l": pa.array(values, pa.large_string()), "v": pa.array(values, pa.string_view())}
    )
    profile = profile_of(table)
    for column in profile.columns.values():
        assert column.kind == "categorical"
        assert column.top_values == [("y", 2), ("x", 1)]
        assert column.distinct == 2


def test_unicode_values_and_huge_strings() -> None:
    huge = "é" * 2_000_000 + "tail"
    values = ["日本語", "日本語", "🙂🙃", huge, huge, huge, "", None]
    column = profile_of(pa.table({"s": values})).columns["s"]
    top = dict(column.top_values)
    assert top["日本語"] == 2
    assert top["🙂🙃"] == 1
    assert top[""] == 1
    assert top["é" * 200] == 3  # huge values are truncated to 200 characters, not bytes
    assert column.distinct == 4
    builder = ProfileBuilder(pa.schema([("s", pa.string())]))
    builder.update(pa.table({"s": values}))
    assert len(builder.to_bytes()) < 100_000


def test_identifier_like_column_in_one_big_batch() -> None:
    rows = 30_000
    table = pa.table(
        {
            "id": [f"user-{i}" for i in range(rows)],
            "country": [["fr", "de", "us"][i % 3] for i in range(rows)],
        }
    )
    profile = profile_of(table)
    ident, country = profile.columns["id"], profile.columns["country"]
    assert ident.identifier_like is True
    assert ident.top_values == []
    assert abs((ident.distinct or 0) - rows) < 0.03 * rows
    assert country.identifier_like is False
    assert country.distinct == 3  # hashed in the same DuckDB query as "id", split back in order
    assert country.top_values == [("de", 10_000), ("fr", 10_000), ("us", 10_000)]


def test_identifier_like_column_in_small_batches() -> None:
    table = pa.table({"id": [f"order-{i:06d}" for i in range(25_000)]})
    column = profile_of(table, batch_rows=4_000).columns["id"]
    assert column.identifier_like is True
    assert column.top_values == []
    assert abs((column.distinct or 0) - 25_000) < 750


def churn_table(rows: int = 5_000) -> pa.Table:
    return pa.Table.from_pandas(make_churn(rows), preserve_index=False)


def test_small_columns_of_unique_values_are_identifier_like() -> None:
    table = churn_table()
    profile = profile_of(table, batch_rows=700)
    for name in ("customer_id", "email"):
        column = profile.columns[name]
        assert column.identifier_like is True, name
        assert column.top_values == [], name  # not sketch over-estimates like ("C000769", 2)
        assert abs((column.distinct or 0) - 5_000) < 150
    frame = table.to_pandas()
    for name in ("region", "plan"):
        column = profile.columns[name]
        assert column.identifier_like is False, name
        exact = frame[name].value_counts()
        assert column.top_values == [(str(v), int(c)) for v, c in exact.items()], name
    whole = builder_of(table)
    assert ProfileBuilder.from_bytes(whole.to_bytes()).result() == whole.result()


def test_unique_rule_is_applied_to_merged_builders() -> None:
    table = churn_table()
    halves = [builder_of(table.slice(0, 2_500)), builder_of(table.slice(2_500))]
    assert halves[0].result().columns["customer_id"].identifier_like is True
    merged = ProfileBuilder.from_bytes(halves[0].to_bytes())
    merged.merge(halves[1])
    profile = merged.result()
    assert profile.columns["customer_id"].identifier_like is True
    assert profile.columns["customer_id"].top_values == []
    assert profile.columns["region"].top_values == profile_of(table).columns["region"].top_values
    doubled = builder_of(table)
    doubled.merge(doubled)  # every id twice now: half the values are distinct
    column = doubled.result().columns["customer_id"]
    assert column.identifier_like is False
    assert column.top_values != []


def test_unique_rule_thresholds_and_nulls() -> None:
    def column_of(values: list[str | None]) -> ColumnProfile:
        return profile_of(pa.table({"s": pa.array(values, pa.string())})).columns["s"]

    few = column_of([f"v{i}" for i in range(49)])  # under 50 values: top values are exact
    assert few.identifier_like is False
    assert few.top_values == sorted((f"v{i}", 1) for i in range(49))[:10]
    assert column_of([f"v{i}" for i in range(50)]).identifier_like is True
    assert column_of([f"v{i}" for i in range(60)] + [None] * 1_000).identifier_like is True
    mostly_unique = column_of([f"v{i}" for i in range(90)] + ["dup"] * 10)  # 91% distinct
    assert mostly_unique.identifier_like is False
    assert mostly_unique.top_values[0] == ("dup", 10)
    encoded = pa.array([f"v{i}" for i in range(80)]).dictionary_encode()
    assert profile_of(pa.table({"d": encoded})).columns["d"].identifier_like is True
    numbers = profile_of(pa.table({"x": np.arange(100.0)})).columns["x"]
    assert numbers.identifier_like is False  # a continuous measure is not an identifier
    assert abs((numbers.distinct or 0) - 100) <= 2


def test_unique_rows_after_a_repetitive_prefix_still_count() -> None:
    # The prefix looks categorical; the exact per-batch rule then sees the whole batch.
    values = ["same"] * 20_001 + [f"u{i}" for i in range(30_000)]
    column = profile_of(pa.table({"s": values})).columns["s"]
    assert column.identifier_like is True
    assert abs((column.distinct or 0) - 30_001) < 900


def test_booleans() -> None:
    values = [True] * 7 + [False] * 3 + [None] * 2
    column = profile_of(pa.table({"b": values}), batch_rows=5).columns["b"]
    assert column.kind == "boolean"
    assert column.top_values == [("true", 7), ("false", 3)]
    assert column.distinct == 2
    assert column.null_count == 2
    assert rel_close(column.mean, 0.7)
    assert rel_close(column.std, float(pd.Series([1.0] * 7 + [0.0] * 3).std()))


# --------------------------------------------------------------------------- temporal & types


def test_timestamps_with_time_zone_dates_and_times() -> None:
    stamps = [
        dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        None,
    ]
    table = pa.table(
        {
            "ts": pa.array(stamps, pa.timestamp("ns", tz="Europe/Paris")),
            "day": pa.array([dt.date(2020, 1, 1), dt.date(2020, 1, 3), None], pa.date32()),
            "at": pa.array([dt.time(8, 30), dt.time(17), None], pa.time64("us")),
        }
    )
    profile = profile_of(table)
    ts = profile.columns["ts"]
    assert ts.kind == "temporal"
    assert ts.unit == "ns"
    assert ts.null_count == 1
    assert ts.min == 1_704_110_400_000_000_000  # integer epoch nanoseconds, UTC
    assert ts.format_value(ts.min) == "2024-01-01T12:00:00.000000000Z"
    assert ts.format_value(ts.max) == "2024-03-01T00:00:00.000000000Z"
    day = profile.columns["day"]
    assert (day.unit, day.format_value(day.min), day.format_value(day.mean)) == (
        "D",
        "2020-01-01",
        "2020-01-02",
    )
    at = profile.columns["at"]
    assert at.format_value(at.max) == "17:00:00.000000"
    display = ts.to_dict()["display"]
    assert display["min"] < display["max"]  # ISO strings of one unit compare like the values
    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False))) == profile


def test_decimal_duration_and_binary_kinds() -> None:
    table = pa.table(
        {
            "d": pa.array(
                [decimal.Decimal("1.25"), decimal.Decimal("2.75"), None], pa.decimal128(10, 2)
            ),
            "dur": pa.array([1, 5, None], pa.duration("s")),
            "raw": pa.array([b"\x00\xff", None, b"x"], pa.binary()),
        }
    )
    profile = profile_of(table)
    assert profile.columns["d"].kind == "numeric"
    assert profile.columns["d"].mean == 2.0
    assert profile.columns["dur"].kind == "numeric"
    assert profile.columns["dur"].max == 5
    raw = profile.columns["raw"]
    assert raw.kind == "other"
    assert raw.null_count == 1
    assert raw.distinct is None
    assert column_kind(pa.list_(pa.int64())) == "other"


# --------------------------------------------------------------------------- merge & state


def assert_profiles_close(got: Profile, want: Profile, distinct_tol: float = 0.0) -> None:
    assert got.num_rows == want.num_rows
    assert list(got.columns) == list(want.columns)
    for name, a in got.columns.items():
        b = want.columns[name]
        assert (a.count, a.null_count, a.min, a.max, a.top_values) == (
            b.count,
            b.null_count,
            b.min,
            b.max,
            b.top_values,
        ), name
        for stat in ("mean", "std"):
            x, y = getattr(a, stat), getattr(b, stat)
            assert (x is None and y is None) or rel_close(x, y), (name, stat)
        if a.distinct is not None and b.distinct is not None:
            assert abs(a.distinct - b.distinct) <= distinct_tol * b.distinct, name


def test_mixed_chunked_batches_give_the_same_profile() -> None:
    table = mixed_table(3_000, seed=1)
    pieces = [table.slice(0, 1), table.slice(1, 998), table.slice(999, 0), table.slice(999)]
    chunked = pa.concat_tables(pieces)
    assert chunked.column("x").num_chunks == 4
    whole = profile_of(table.combine_chunks())
    builder = ProfileBuilder(table.schema)
    builder.update(chunked)  # a Table is accepted and walked batch by batch
    assert_profiles_close(builder.result(), whole)
    assert builder.result().columns["x"].distinct == whole.columns["x"].distinct


def test_merge_matches_profiling_the_concatenation() -> None:
    first, second = mixed_table(2_500, seed=2), mixed_table(1_500, seed=3)
    left, right = builder_of(first), builder_of(second)
    left.merge(right)
    assert_profiles_close(left.result(), profile_of(pa.concat_tables([first, second])))
    assert right.result().num_rows == 1_500  # the argument is not changed


def test_to_bytes_round_trip_then_merge() -> None:
    first, second = mixed_table(2_000, seed=4), mixed_table(900, seed=5)
    original = builder_of(first)
    restored = ProfileBuilder.from_bytes(original.to_bytes())
    assert restored.result() == original.result()
    assert restored.to_bytes() == original.to_bytes()
    restored.merge(builder_of(second))
    restored.update(second)  # a restored builder keeps profiling (it opens its own DuckDB)
    want = profile_of(pa.concat_tables([first, second, second]))
    assert_profiles_close(restored.result(), want)


def test_merge_of_an_identifier_column_with_a_plain_one_is_identifier_like() -> None:
    ids = pa.table({"s": [f"k{i}" for i in range(12_000)]})
    plain = pa.table({"s": ["a", "b"] * 10})
    merged = builder_of(plain)
    merged.merge(ProfileBuilder.from_bytes(builder_of(ids).to_bytes()))
    column = merged.result().columns["s"]
    assert column.identifier_like is True
    assert column.top_values == []
    assert abs((column.distinct or 0) - 12_002) < 400


def test_schema_mismatches_are_rejected() -> None:
    builder = ProfileBuilder(pa.schema([("a", pa.int64()), ("b", pa.string())]))
    with pytest.raises(ValidationError, match="a: int64, b: string"):
        builder.update(pa.table({"a": [1.5], "b": ["x"]}))
    with pytest.raises(ValidationError, match=r"\(b: string, a: int64\)"):
        builder.update(pa.table({"b": ["x"], "a": [1]}))
    with pytest.raises(ValidationError, match="RecordBatch"):
        builder.update({"a": [1]})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="the other profile"):
        builder.merge(ProfileBuilder(pa.schema([("a", pa.int64())])))
    with pytest.raises(ValidationError, match="duplicate"):
        ProfileBuilder(pa.schema([("a", pa.int64()), ("a", pa.int64())]))
    assert builder.num_rows == 0


def test_merging_sketches_from_a_different_string_hash_is_refused() -> None:
    left, right = builder_of(pa.table({"s": ["a"]})), builder_of(pa.table({"s": ["b"]}))
    right._hash_probe = 12345  # what a DuckDB with another hash function would record
    with pytest.raises(ValidationError, match="different string hash"):
        left.merge(right)


def test_from_bytes_rejects_garbage_truncation_and_tampering() -> None:
    good = builder_of(mixed_table(500)).to_bytes()
    for bad in (b"", b"garbage", good[:-1], good[: len(good) // 2], good[:40], b"\x00" * 5000):
        with pytest.raises(ValidationError):
            ProfileBuilder.from_bytes(bad)
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF
    with pytest.raises(ValidationError, match="checksum"):
        ProfileBuilder.from_bytes(bytes(flipped))
    with pytest.raises(ValidationError, match="bytes"):
        ProfileBuilder.from_bytes("not bytes")  # type: ignore[arg-type]
    assert ProfileBuilder.from_bytes(bytearray(good)).num_rows == 500


def _reseal(body: bytes) -> bytes:
    return b"MYPROF1\n" + hashlib.sha256(body).digest() + body


def test_from_bytes_rejects_well_sealed_but_malformed_state() -> None:
    good = builder_of(mixed_table(300)).to_bytes()
    body = good[8 + 32 :]
    (head_len,) = struct.unpack(">I", body[:4])
    header = json.loads(body[4 : 4 + head_len])
    rest = body[4 + head_len :]

    def sealed(changed: dict[str, object]) -> bytes:
        head = json.dumps(changed).encode()
        return _reseal(struct.pack(">I", len(head)) + head + rest)

    for mutate in (
        lambda h: h.update(format=2),
        lambda h: h["columns"].pop(),
        lambda h: h["columns"][0].update(count=-1),
        lambda h: h["columns"][0].update(min="zero"),
        lambda h: h["columns"][0].update(m2=-1.0),
        lambda h: h["columns"][0].update(name="other"),
        lambda h: h["blob_sizes"].append(10**9),
        lambda h: h["columns"][0].update(kll=999),
        lambda h: h.pop("num_rows"),
    ):
        changed = json.loads(json.dumps(header))
        mutate(changed)
        with pytest.raises(ValidationError):
            ProfileBuilder.from_bytes(sealed(changed))
    with pytest.raises(ValidationError):
        ProfileBuilder.from_bytes(_reseal(struct.pack(">I", 5) + b"{bad json"))
    with pytest.raises(ValidationError):  # garbage where the sketches should be
        ProfileBuilder.from_bytes(sealed(header)[:-200] + b"\x07" * 200)


def _split_state(state: bytes) -> tuple[dict[str, Any], list[bytes]]:
    body = state[8 + 32 :]
    (head_len,) = struct.unpack(">I", body[:4])
    header = json.loads(body[4 : 4 + head_len])
    blobs, offset = [], 4 + head_len
    for size in header["blob_sizes"]:
        blobs.append(body[offset : offset + size])
        offset += size
    return header, blobs


def _join_state(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    head = json.dumps(header).encode()
    return _reseal(struct.pack(">I", len(head)) + head + b"".join(blobs))


def test_from_bytes_checks_quantile_sketch_layout_before_datasketches_reads_it() -> None:
    # datasketches' C++ trusts level offsets and segfaults on crafted ones.
    builder = builder_of(pa.table({"x": np.random.default_rng(8).normal(size=5_000)}))
    header, blobs = _split_state(builder.to_bytes())
    index = header["columns"][0]["kll"]
    kll = blobs[index]
    assert ProfileBuilder.from_bytes(_join_state(header, blobs)).num_rows == 5_000
    tampered = {
        "level offset past the end": kll[:20] + struct.pack("<I", 2**32 - 1) + kll[24:],
        "NaN item": kll[:-8] + struct.pack("<d", math.nan),
        "wrong family": kll[:2] + b"\x07" + kll[3:],
        "cut short": kll[:30],
        "one item too many": kll + kll[-8:],
        "weight that disagrees with n": kll[:8] + struct.pack("<Q", 4_999) + kll[16:],
    }
    for what, blob in tampered.items():
        changed = [*blobs[:index], blob, *blobs[index + 1 :]]
        with pytest.raises(ValidationError):
            ProfileBuilder.from_bytes(_join_state(header, changed))
            pytest.fail(what)


def test_from_bytes_survives_random_resealed_corruption() -> None:
    table = pa.table(
        {
            "x": np.random.default_rng(9).normal(size=3_000),
            "s": [f"k{i % 40}" for i in range(3_000)],
            "b": [True, False, None] * 1_000,
        }
    )
    good = builder_of(table).to_bytes()
    body = good[8 + 32 :]
    rng = np.random.default_rng(10)
    for _ in range(400):
        changed = bytearray(body)
        for position in rng.integers(0, len(changed), rng.integers(1, 6)):
            changed[position] = int(rng.integers(0, 256))
        try:
            restored = ProfileBuilder.from_bytes(_reseal(bytes(changed)))
        except ValidationError:
            continue
        restored.update(table)  # whatever got through must still work
        restored.result()


# --------------------------------------------------------------------------- dict & diff


def test_profile_dict_round_trips_through_strict_json() -> None:
    table = mixed_table()
    table = table.append_column("flag", pa.array([i % 3 == 0 for i in range(len(table))]))
    profile = profile_of(table)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    again = Profile.from_dict(json.loads(text))
    assert again == profile
    assert again.to_dict() == profile.to_dict()
    assert isinstance(again.columns["colour"].top_values[0], tuple)


def test_profile_from_dict_rejects_malformed_input() -> None:
    good = profile_of(mixed_table(100)).to_dict()
    cases: list[object] = [
        [],
        {"num_rows": 1},
        {"num_rows": "1", "columns": []},
        {"num_rows": 1, "columns": [good["columns"][0], good["columns"][0]]},
        {"num_rows": 1, "columns": ["x"]},
    ]
    for field, value in [
        ("kind", "weird"),
        ("count", True),
        ("count", 1.5),
        ("mean", "high"),
        ("quantiles", {"p50": "x"}),
        ("histogram", {"edges": [1], "counts": [1]}),
        ("histogram", {"edges": [1, "2"], "counts": [1]}),
        ("top_values", [["a"]]),
        ("top_values", [["a", 1.5]]),
    ]:
        column = dict(good["columns"][0], **{field: value})
        cases.append({"num_rows": 1, "columns": [column]})
    missing = dict(good["columns"][0])
    del missing["null_count"]
    cases.append({"num_rows": 1, "columns": [missing]})
    for case in cases:
        with pytest.raises(ValidationError):
            Profile.from_dict(case)  # type: ignore[arg-type]


def test_compare_profiles() -> None:
    old = profile_of(pa.table({"a": [1.0, 2.0, 3.0], "b": ["x", "y", None], "c": [1, 2, 3]}))
    new = profile_of(pa.table({"a": [2.0, 4.0, None], "b": [1, 2, 3], "d": [True, False, True]}))
    changes = {c.column: c for c in compare_profiles(old, new)}
    assert list(changes) == ["a", "b", "c", "d"]
    assert [changes[n].change for n in changes] == ["compared", "type_changed", "removed", "added"]
    a = {m.metric: m for m in changes["a"].metrics}
    assert [m.metric for m in changes["a"].metrics] == [
        "null_fraction",
        "mean",
        "std",
        "distinct",
        "min",
        "max",
    ]
    assert (a["mean"].old, a["mean"].new, a["mean"].delta) == (2.0, 3.0, 1.0)
    assert a["null_fraction"].delta == pytest.approx(1 / 3)
    assert a["max"].delta == 1.0
    assert changes["a"].changed
    assert changes["c"].new_type is None
    assert changes["c"].metrics[1].delta is None
    assert changes["d"].old_type is None
    assert changes["d"].new_type == "bool"
    same = compare_profiles(old, old)
    assert not any(c.changed for c in same)
    json.dumps([c.to_dict() for c in compare_profiles(old, new)], allow_nan=False)


def test_column_profile_defaults_are_valid_json() -> None:
    column = ColumnProfile(
        name="a", type="double", kind="numeric", count=0, null_count=0, null_fraction=None
    )
    assert (
        ColumnProfile.from_dict(json.loads(json.dumps(column.to_dict(), allow_nan=False))) == column
    )


# --------------------------------------------------------------------------- performance


@pytest.mark.slow
def test_update_of_a_million_rows_is_fast() -> None:
    rng = np.random.default_rng(0)
    rows = 1_000_000
    columns: dict[str, object] = {f"f{i}": rng.normal(size=rows) for i in range(4)}
    columns["city"] = pa.array(rng.choice(["paris", "berlin", "rome", "oslo"], rows))
    columns["plan"] = pa.array(rng.choice([f"plan{i}" for i in range(40)], rows))
    columns["id"] = pa.array(np.char.add("id-", np.arange(rows).astype(str)))
    batch = pa.RecordBatch.from_pydict(columns)
    builder = ProfileBuilder(batch.schema)
    started = time.perf_counter()
    builder.update(batch)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0  # ~0.25 s on a 2-core dev box; generous for loaded CI machines
    profile = builder.result()
    assert profile.columns["id"].identifier_like is True
    assert abs((profile.columns["id"].distinct or 0) - rows) < 0.03 * rows
    assert (profile.columns["city"].distinct, profile.columns["plan"].distinct) == (4, 40)
