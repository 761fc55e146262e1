from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import io
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.data.masking import REDACTED, Masker, MaskPolicy, parse_mask_policy
from modelyard.exceptions import ConfigError, ValidationError

KEY = b"0123456789abcdef0123456789abcdef"

HOSTILE = [
    "alice@example.com",
    "Zoë Ångström-Łukasiewicz 😀 北京",
    "nul\x00inside\x00value",
    "x" * 100_000,
    "' OR 1=1; DROP TABLE users; --",
    "line\nbreak\ttab",
    "\u202eright-to-left override",
]


def _token(value: bytes, key: bytes = KEY) -> str:
    return hmac.new(key, value, hashlib.sha256).hexdigest()


def _mask_one(policy: str, array: pa.Array, key: bytes | None = KEY) -> pa.Array:
    batch = pa.record_batch({"c": array})
    return Masker({"c": policy}, key=key).apply(batch).column("c")


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hmac", MaskPolicy("hmac")),
        ("  Redact ", MaskPolicy("redact")),
        ("drop", MaskPolicy("drop")),
        ("generalize:prefix=3", MaskPolicy("generalize", {"prefix": 3})),
        ("generalize:month", MaskPolicy("generalize", {"truncate": "month"})),
        ("generalize:day", MaskPolicy("generalize", {"truncate": "day"})),
        ("generalize:year", MaskPolicy("generalize", {"truncate": "year"})),
        ("generalize:round=100", MaskPolicy("generalize", {"round": 100})),
        ("generalize:round=0.5", MaskPolicy("generalize", {"round": 0.5})),
    ],
)
def test_parse_mask_policy_round_trips(text: str, expected: MaskPolicy) -> None:
    policy = parse_mask_policy(text)
    assert policy == expected
    assert parse_mask_policy(str(policy)) == policy
    assert hash(policy) == hash(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "foo",
        "hash",
        "hmac:sha1",
        "generalize",
        "generalize:",
        "generalize:week",
        "generalize:prefix",
        "generalize:prefix=0",
        "generalize:prefix=-1",
        "generalize:prefix=a",
        "generalize:prefix=³",
        "generalize:prefix=99999999999999999999",
        "generalize:prefix=3=4",
        "generalize:round=0",
        "generalize:round=-5",
        "generalize:round=nan",
        "generalize:round=inf",
        "generalize:round=abc",
        "generalize:secret=1",
    ],
)
def test_parse_mask_policy_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValidationError, match="valid"):
        parse_mask_policy(text)


def test_parse_mask_policy_lists_the_valid_policies() -> None:
    with pytest.raises(ValidationError, match=r"hmac, redact, drop, generalize:prefix=N"):
        parse_mask_policy("tokenize")


def test_parse_mask_policy_rejects_non_text() -> None:
    with pytest.raises(ValidationError, match="must be text"):
        parse_mask_policy(3)  # type: ignore[arg-type]


def test_mask_policy_validates_direct_construction() -> None:
    with pytest.raises(ValidationError, match="unknown mask policy"):
        MaskPolicy("encrypt")
    with pytest.raises(ValidationError, match="takes no options"):
        MaskPolicy("hmac", {"prefix": 3})
    with pytest.raises(ValidationError, match="exactly one option"):
        MaskPolicy("generalize", {"prefix": 3, "round": 10})
    with pytest.raises(ValidationError, match="invalid generalize option"):
        MaskPolicy("generalize", {"prefix": True})


def test_masker_rejects_bad_policy_and_column_names() -> None:
    with pytest.raises(ValidationError, match="valid policies"):
        Masker({"email": "sha256"}, key=KEY)
    with pytest.raises(ValidationError, match="non-empty strings"):
        Masker({"": "drop"}, key=KEY)


# -- hmac ------------------------------------------------------------------------------


def test_hmac_is_keyed_deterministic_and_keeps_nulls() -> None:
    out = _mask_one("hmac", pa.array(["a@x.org", None, "a@x.org", "b@x.org"]))
    tokens = out.to_pylist()
    assert out.type == pa.string()
    assert tokens[0] == tokens[2] == _token(b"a@x.org")
    assert tokens[1] is None
    assert tokens[3] != tokens[0]
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens if t is not None)
    # not an unsalted hash: a dictionary attack without the key finds nothing
    assert tokens[0] != hashlib.sha256(b"a@x.org").hexdigest()
    other = _mask_one("hmac", pa.array(["a@x.org"]), key=b"another-key-of-16+bytes")
    assert other.to_pylist()[0] != tokens[0]


def test_hmac_tokens_join_across_batches_and_types() -> None:
    masker = Masker({"id": "hmac"}, key=KEY)
    left = masker.apply(pa.record_batch({"id": pa.array([42, 7], pa.int64())}))
    right = masker.apply(pa.record_batch({"id": pa.array([7.0, 42.0, None])}))
    text = masker.apply(pa.record_batch({"id": ["42"]}))
    assert left.column("id")[0] == right.column("id")[1] == text.column("id")[0]
    assert left.column("id")[1] == right.column("id")[0]
    joined = pa.table(left).join(pa.table(right), "id")
    assert joined.num_rows == 2


@pytest.mark.parametrize(
    ("array", "canonical"),
    [
        (pa.array([True, False]), [b"true", b"false"]),
        (pa.array([-3, 0], pa.int8()), [b"-3", b"0"]),
        (pa.array([2**64 - 1], pa.uint64()), [str(2**64 - 1).encode()]),
        (pa.array([0.1, 1e-7, -0.0, 1e300]), [b"0.1", b"1e-07", b"0", b"1e+300"]),
        (pa.array([float("nan"), float("inf"), -float("inf")]), [b"nan", b"inf", b"-inf"]),
        (pa.array([0.1], pa.float32()), [b"0.1"]),
        (pa.array([decimal.Decimal("1.50")], pa.decimal128(6, 2)), [b"1.50"]),
        (pa.array([dt.date(2024, 3, 17)], pa.date32()), [b"2024-03-17"]),
        (pa.array([dt.date(2024, 3, 17)], pa.date64()), [b"2024-03-17"]),
        (pa.array([dt.time(13, 5, 9, 250000)], pa.time64("us")), [b"13:05:09.25"]),
        (pa.array([dt.time(13, 5, 9)], pa.time32("s")), [b"13:05:09"]),
        (
            pa.array([dt.datetime(2024, 3, 17, 13, 5, 9, 250000)], pa.timestamp("ns")),
            [b"2024-03-17T13:05:09.25"],
        ),
        (
            pa.array([dt.datetime(2024, 3, 17, 13, 5, 9)], pa.timestamp("ms", tz="UTC")),
            [b"2024-03-17T13:05:09Z"],
        ),
        (
            pa.array([dt.datetime(1969, 12, 31, 23, 59, 59, 1)], pa.timestamp("us")),
            [b"1969-12-31T23:59:59.000001"],
        ),
        (pa.array([b"\x00\xff"], pa.binary()), [b"\x00\xff"]),
        (pa.array(["é"], pa.large_string()), ["é".encode()]),
        (pa.array(["é"], pa.string_view()), ["é".encode()]),
        (pa.array(["", "\x00"]), [b"", b"\x00"]),
    ],
)
def test_hmac_hashes_the_documented_canonical_form(array: pa.Array, canonical: list[bytes]) -> None:
    assert _mask_one("hmac", array).to_pylist() == [_token(c) for c in canonical]


def test_hmac_timestamps_ignore_the_unit_but_not_the_zone() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5)
    tokens = {
        unit: _mask_one("hmac", pa.array([moment], pa.timestamp(unit)))[0].as_py()
        for unit in ("s", "ms", "us", "ns")
    }
    assert len(set(tokens.values())) == 1
    aware = pa.array([moment], pa.timestamp("us", tz="Europe/Paris"))
    assert _mask_one("hmac", aware)[0].as_py() != tokens["s"]


def test_hmac_handles_hostile_strings() -> None:
    out = _mask_one("hmac", pa.array([*HOSTILE, "", "nul", None]))
    tokens = out.to_pylist()
    assert tokens[:-1] == [_token(v.encode()) for v in [*HOSTILE, "", "nul"]]
    assert tokens[-1] is None
    assert len(set(tokens[:-1])) == len(tokens) - 1  # embedded NULs do not truncate


def test_hmac_of_all_null_and_null_typed_columns() -> None:
    assert _mask_one("hmac", pa.array([None, None], pa.string())).to_pylist() == [None, None]
    out = _mask_one("hmac", pa.nulls(3))
    assert out.type == pa.string()
    assert out.null_count == 3


def test_hmac_accepts_dictionary_encoded_columns() -> None:
    plain = _mask_one("hmac", pa.array(["a", "b", None, "a"]))
    encoded = _mask_one("hmac", pa.array(["a", "b", None, "a"]).dictionary_encode())
    assert encoded.type == pa.string()
    assert encoded.equals(plain)


def test_hmac_hashes_only_unique_values_fast() -> None:
    rng = np.random.default_rng(0)
    values = pa.array(rng.integers(0, 2_000, 500_000).astype(str))
    start = time.perf_counter()
    out = _mask_one("hmac", values)
    elapsed = time.perf_counter() - start
    assert len(out) == 500_000
    assert pa.compute.count_distinct(out).as_py() == pa.compute.count_distinct(values).as_py()
    assert elapsed < 2.0


# -- redact, drop, generalize ----------------------------------------------------------


def test_redact_replaces_every_non_null_value() -> None:
    out = _mask_one("redact", pa.array([1.5, None, float("nan")]))
    assert out.type == pa.string()
    assert out.to_pylist() == [REDACTED, None, REDACTED]
    assert _mask_one("redact", pa.array([["a"], None])).to_pylist() == [REDACTED, None]


def test_drop_removes_the_column_and_keeps_the_rest() -> None:
    batch = pa.record_batch({"ssn": ["123-45-6789"], "age": [40]})
    masker = Masker({"ssn": "drop"}, key=None)
    out = masker.apply(batch)
    assert out.schema.names == ["age"]
    assert out.column("age").to_pylist() == [40]
    assert masker.output_schema(batch.schema) == out.schema


def test_prefix_keeps_leading_characters_and_redacts_short_values() -> None:
    out = _mask_one("generalize:prefix=3", pa.array(["90210", "Zoë😀x", "ab", "abc", "", None]))
    assert out.to_pylist() == ["902", "Zoë", REDACTED, REDACTED, REDACTED, None]
    large = _mask_one("generalize:prefix=1", pa.array(["xy"], pa.large_string()))
    assert large.type == pa.string()
    assert large.to_pylist() == ["x"]


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("year", dt.datetime(2024, 1, 1)),
        ("month", dt.datetime(2024, 3, 1)),
        ("day", dt.datetime(2024, 3, 17)),
    ],
)
def test_truncate_timestamps_and_dates(unit: str, expected: dt.datetime) -> None:
    moment = dt.datetime(2024, 3, 17, 13, 5, 9)
    for type_ in (pa.timestamp("s"), pa.timestamp("ns")):
        out = _mask_one(f"generalize:{unit}", pa.array([moment, None], type_))
        assert out.type == type_
        assert out.to_pylist() == [expected, None]
    out = _mask_one(f"generalize:{unit}", pa.array([moment.date()], pa.date32()))
    assert out.to_pylist() == [expected.date()]


def test_truncate_aware_timestamps_in_local_time() -> None:
    zone = "America/New_York"
    local = pd.Timestamp("2024-03-31 23:30", tz=zone)
    out = _mask_one("generalize:day", pa.array([local], pa.timestamp("us", tz=zone)))
    assert out.to_pylist()[0] == pd.Timestamp("2024-03-31", tz=zone)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("year", ["2024", "2024", "2024", "1999"]),
        ("month", ["2024-03", "2024-03", "2024-03", "1999-12"]),
        ("day", ["2024-03-17", "2024-03-17", "2024-03-17", "1999-12-31"]),
    ],
)
def test_truncate_iso_date_strings(unit: str, expected: list[str]) -> None:
    values = ["2024-03-17", "2024-03-17T13:05:09Z", "2024-03-17 13:05:09.123+02:00", "1999-12-31"]
    out = _mask_one(f"generalize:{unit}", pa.array([*values, None]))
    assert out.type == pa.string()
    assert out.to_pylist() == [*expected, None]


@pytest.mark.parametrize(
    ("unit", "bad"),
    [
        ("month", "17/03/2024"),
        ("month", "2024"),
        ("day", "2024-03"),
        ("day", "2024-13-01"),
        ("year", ""),
        ("year", "secret-2024-03-17"),
        ("day", "2024-03-17\x00ssn=123"),
    ],
)
def test_truncate_refuses_strings_that_are_not_iso_dates(unit: str, bad: str) -> None:
    with pytest.raises(ValidationError, match="not ISO 8601 dates") as info:
        _mask_one(f"generalize:{unit}", pa.array(["2024-03-17", bad]))
    assert "first at row 1" in str(info.value)
    if bad:
        assert bad not in str(info.value)  # the raw value never reaches logs


def test_round_integers_and_floats() -> None:
    ints = _mask_one("generalize:round=100", pa.array([149, 150, -150, None], pa.int32()))
    assert ints.type == pa.int32()
    assert ints.to_pylist() == [100, 200, -200, None]
    floats = _mask_one("generalize:round=0.5", pa.array([1.2, 1.3, float("nan")]))
    assert floats.to_pylist()[:2] == [1.0, 1.5]
    assert np.isnan(floats.to_pylist()[2])


def test_round_overflow_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot round"):
        _mask_one("generalize:round=10", pa.array([2**63 - 1]))


# -- check -----------------------------------------------------------------------------


def test_check_unknown_column_lists_the_available_ones() -> None:
    schema = pa.schema([("email", pa.string()), ("age", pa.int64())])
    with pytest.raises(
        ValidationError, match=r"unknown column 'mail'.*available columns: email, age"
    ):
        Masker({"mail": "hmac"}, key=KEY).check(schema)


def test_check_duplicate_column_names() -> None:
    schema = pa.schema([("email", pa.string()), ("email", pa.string())])
    with pytest.raises(ValidationError, match="appears 2 times"):
        Masker({"email": "redact"}, key=None).check(schema)


def test_hmac_without_a_key_says_how_to_configure_it() -> None:
    schema = pa.schema([("email", pa.string())])
    with pytest.raises(ConfigError) as info:
        Masker({"email": "hmac"}, key=None).check(schema)
    message = str(info.value)
    assert "MODELYARD_MASK_KEY" in message
    assert "mask_key_file:" in message
    assert "no silent fallback" in message
    # apply() refuses too: the check cannot be skipped
    with pytest.raises(ConfigError):
        Masker({"email": "hmac"}, key=None).apply(pa.record_batch({"email": ["a"]}))


def test_no_key_is_fine_without_hmac() -> None:
    Masker({"email": "redact"}, key=None).check(pa.schema([("email", pa.string())]))


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15, "a-text-key-of-enough-length"])
def test_check_refuses_short_or_non_bytes_keys(key: bytes) -> None:
    with pytest.raises(ConfigError, match="MODELYARD_MASK_KEY"):
        Masker({"email": "hmac"}, key=key).check(pa.schema([("email", pa.string())]))


@pytest.mark.parametrize(
    ("policy", "type_"),
    [
        ("generalize:month", pa.int64()),
        ("generalize:day", pa.float64()),
        ("generalize:year", pa.bool_()),
        ("generalize:prefix=2", pa.int64()),
        ("generalize:prefix=2", pa.timestamp("s")),
        ("generalize:round=10", pa.string()),
        ("generalize:round=0.5", pa.int64()),
        ("generalize:round=1000", pa.int8()),
        ("hmac", pa.list_(pa.string())),
        ("hmac", pa.struct([("a", pa.int64())])),
        ("hmac", pa.duration("s")),
    ],
)
def test_check_refuses_policies_that_do_not_fit_the_type(policy: str, type_: pa.DataType) -> None:
    with pytest.raises(ValidationError, match="cannot be applied to column 'c'"):
        Masker({"c": policy}, key=KEY).check(pa.schema([("c", type_)]))


# -- schema, describe ------------------------------------------------------------------


def test_output_schema_matches_apply_and_drops_pandas_metadata() -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@x.org", "b@x.org"],
            "zip": ["90210", "10001"],
            "signup": pd.to_datetime(["2024-03-17", "2023-01-05"]),
            "spend": [120.0, 80.0],
            "ssn": ["1", "2"],
        }
    )
    batch = pa.RecordBatch.from_pandas(frame)
    policies = {
        "email": "hmac",
        "zip": "generalize:prefix=3",
        "signup": "generalize:month",
        "spend": "generalize:round=100",
        "ssn": "drop",
    }
    masker = Masker(policies, key=KEY)
    out = masker.apply(batch)
    assert out.schema == masker.output_schema(batch.schema)
    assert out.schema.names == ["email", "zip", "signup", "spend"]
    assert out.schema.field("signup").type == batch.schema.field("signup").type
    assert [str(t) for t in out.schema.types[:2]] == ["string", "string"]
    assert out.schema.field("spend").type == pa.float64()
    assert b"pandas" not in (out.schema.metadata or {})
    back = out.to_pandas()
    assert back["spend"].tolist() == [100.0, 100.0]
    assert back["zip"].tolist() == ["902", "100"]


def test_describe_and_repr_never_show_the_key() -> None:
    masker = Masker({"email": "hmac", "zip": MaskPolicy("generalize", {"prefix": 3})}, key=KEY)
    assert masker.describe() == {"email": "hmac", "zip": "generalize:prefix=3"}
    assert KEY.decode() not in repr(masker)
    assert KEY.decode() not in str(masker.describe())


def test_empty_batch_keeps_the_output_schema() -> None:
    batch = pa.record_batch({"email": pa.array([], pa.string()), "n": pa.array([], pa.int64())})
    out = Masker({"email": "hmac", "n": "redact"}, key=KEY).apply(batch)
    assert out.num_rows == 0
    assert out.schema.types == [pa.string(), pa.string()]


# -- nothing raw reaches Parquet -------------------------------------------------------


def _hostile_batch() -> pa.RecordBatch:
    emails = [f"user{i}.{v[:20]}@example.org" for i, v in enumerate(HOSTILE)]
    return pa.record_batch(
        {
            "email": emails * 3,  # repeats make Parquet dictionary-encode the column
            "name": HOSTILE * 3,
            "phone": [f"+1-555-01{i:02d}" for i in range(len(HOSTILE))] * 3,
            "keep": list(range(len(HOSTILE) * 3)),
        }
    )


def _parquet_bytes(batch: pa.RecordBatch, **options: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_batches([batch]), sink, **options)  # type: ignore[arg-type]
    return sink.getvalue()


def _raw_values(batch: pa.RecordBatch) -> list[bytes]:
    values: set[bytes] = set()
    for name in ("email", "name", "phone"):
        values.update(v.encode() for v in batch.column(name).to_pylist() if len(v) >= 4)
    return sorted(values)


def test_the_grep_finds_raw_values_in_unmasked_parquet() -> None:
    # the control: proves the leak test below would see a leak
    batch = _hostile_batch()
    data = _parquet_bytes(batch, compression="none")
    assert all(raw in data for raw in _raw_values(batch))


@pytest.mark.parametrize("compression", ["snappy", "none"])
def test_masked_parquet_bytes_contain_no_raw_value(compression: str) -> None:
    batch = _hostile_batch()
    masked = Masker({"email": "hmac", "name": "redact", "phone": "hmac"}, key=KEY).apply(batch)
    data = _parquet_bytes(masked, compression=compression)  # dictionary + statistics on
    leaks = [raw[:40] for raw in _raw_values(batch) if raw in data]
    assert leaks == []
    assert (
        pq.read_table(io.BytesIO(data)).column("keep").to_pylist()
        == batch.column("keep").to_pylist()
    )


def test_masked_parquet_statistics_do_not_leak() -> None:
    batch = _hostile_batch()
    masked = Masker({"email": "hmac", "name": "redact", "phone": "hmac"}, key=KEY).apply(batch)
    metadata = pq.ParquetFile(io.BytesIO(_parquet_bytes(masked))).metadata
    raw = {v.decode() for v in _raw_values(batch)}
    tokens = set(masked.column("email").to_pylist()) | set(masked.column("phone").to_pylist())
    for group in range(metadata.num_row_groups):
        for index in range(3):
            stats = metadata.row_group(group).column(index).statistics
            assert stats is not None
            assert stats.has_min_max
            for bound in (stats.min, stats.max):
                assert bound not in raw
                assert bound in tokens or bound == REDACTED
