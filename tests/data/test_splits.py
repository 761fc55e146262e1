from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from modelyard.data.splits import (
    DEFAULT_FRACTIONS,
    SplitSpec,
    assign_split,
    parse_split_spec,
    split_counts,
)
from modelyard.exceptions import ValidationError

THREE = {"train": 0.7, "valid": 0.15, "test": 0.15}


def _rows(n: int) -> pa.Table:
    return pa.table({"x": pa.nulls(n, pa.int8())})


# -- SplitSpec -------------------------------------------------------------------------


def test_spec_round_trips_through_dict_and_text() -> None:
    spec = SplitSpec("stratified", THREE, seed=7, by="churned")
    assert SplitSpec.from_dict(spec.to_dict()) == spec
    assert parse_split_spec(spec.to_dict()) == spec
    assert parse_split_spec("stratified:by=churned,train=0.7,valid=0.15,test=0.15,seed=7") == spec
    assert spec.part_names == ("train", "valid", "test")
    assert spec.required_columns == ("churned",)
    assert hash(spec) == hash(SplitSpec("stratified", dict(THREE), seed=7, by="churned"))


def test_parse_split_spec_text_forms() -> None:
    assert parse_split_spec("random") == SplitSpec("random", DEFAULT_FRACTIONS)
    assert parse_split_spec(" random : train = 0.8 , test = 0.2 ") == SplitSpec(
        "random", {"train": 0.8, "test": 0.2}
    )
    time_spec = parse_split_spec("time:column=signup_at,train=0.9,test=0.1")
    assert time_spec.time_column == "signup_at"
    assert time_spec.required_columns == ("signup_at",)
    assert parse_split_spec("time:time_column=t").time_column == "t"
    assert SplitSpec("random", THREE).required_columns == ()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "unknown split kind"),
        ("shuffle:train=1", "unknown split kind 'shuffle'; valid kinds: random, stratified, time"),
        ("random:train", "expected name=value"),
        ("random:train=", "expected name=value"),
        ("random:train=abc,test=0.5", "not a number"),
        ("random:seed=x", "not an integer"),
        ("random:train=0.5,test=0.4", "must sum to 1"),
        ("stratified", "needs by="),
        ("time:train=1", "needs time_column="),
        ("random:by=y", "only applies to stratified"),
    ],
)
def test_parse_split_spec_errors(text: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        parse_split_spec(text)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fractions": {}}, "non-empty mapping"),
        ({"fractions": [0.5, 0.5]}, "non-empty mapping"),
        ({"fractions": {"train": 0.5, "test": 0.6}}, "must sum to 1"),
        ({"fractions": {"train": 1.2, "test": -0.2}}, "must be a number > 0"),
        ({"fractions": {"train": 1.0, "test": 0.0}}, "must be a number > 0"),
        ({"fractions": {"train": float("nan")}}, "must be a number > 0"),
        ({"fractions": {"train": True}}, "must be a number > 0"),
        ({"fractions": {"train": "1"}}, "must be a number > 0"),
        ({"fractions": {"my part": 1.0}}, "not an identifier"),
        ({"fractions": {"": 1.0}}, "not an identifier"),
        ({"fractions": {1: 1.0}}, "not an identifier"),
        ({"fractions": {f"p{i}": 1 / 128 for i in range(128)}}, "at most 127 parts"),
        ({"seed": -1}, "non-negative integer"),
        ({"seed": 1.0}, "non-negative integer"),
        ({"seed": True}, "non-negative integer"),
        ({"time_column": "t"}, "only applies to time"),
        ({"kind": "stratified"}, "needs by="),
        ({"kind": "stratified", "by": ""}, "needs by="),
        ({"kind": "time", "by": "y", "time_column": "t"}, "only applies to stratified"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"kind": "random", "fractions": THREE, **kwargs}
    with pytest.raises(ValidationError, match=match):
        SplitSpec(**arguments)  # type: ignore[arg-type]


def test_fractions_within_rounding_of_one_are_fine() -> None:
    spec = SplitSpec("random", {"a": 0.1, "b": 0.2, "c": 0.7})  # sums to 1.0000000000000002
    assert spec.fractions == {"a": 0.1, "b": 0.2, "c": 0.7}
    assert SplitSpec("random", {"all": 1}).fractions == {"all": 1.0}


def test_from_dict_errors() -> None:
    with pytest.raises(ValidationError, match="must be a mapping"):
        SplitSpec.from_dict("random")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"unknown split spec key.*stratify_by.*valid keys"):
        SplitSpec.from_dict({"kind": "random", "fractions": THREE, "stratify_by": "y"})
    with pytest.raises(ValidationError, match="needs 'kind' and 'fractions'"):
        SplitSpec.from_dict({"kind": "random"})


# -- random ----------------------------------------------------------------------------


def test_random_sizes_use_largest_remainder() -> None:
    spec = SplitSpec("random", THREE)
    assert split_counts(spec, assign_split(spec, _rows(10))) == {"train": 7, "valid": 2, "test": 1}
    thirds = SplitSpec("random", {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert split_counts(thirds, assign_split(thirds, _rows(11))) == {"a": 4, "b": 4, "c": 3}
    for n in (1, 2, 99, 1001):
        assignment = assign_split(SplitSpec("random", {"all": 1.0}), _rows(n))
        assert assignment.tolist() == [0] * n


def test_random_is_seeded_shuffled_and_int8() -> None:
    spec = SplitSpec("random", THREE, seed=3)
    first = assign_split(spec, _rows(10_000))
    assert first.dtype == np.int8
    assert np.array_equal(first, assign_split(spec, _rows(10_000)))
    assert not np.array_equal(
        first, assign_split(SplitSpec("random", THREE, seed=4), _rows(10_000))
    )
    # shuffled: each tenth of the rows holds about 70% train
    shares = [(chunk == 0).mean() for chunk in np.array_split(first, 10)]
    assert all(0.63 < share < 0.77 for share in shares)


def test_random_reads_no_column_and_accepts_record_batches() -> None:
    spec = SplitSpec("random", THREE, seed=1)
    batch = pa.record_batch({"anything": list(range(50))})
    assert np.array_equal(assign_split(spec, batch), assign_split(spec, _rows(50)))


def test_a_part_with_no_rows_is_an_error() -> None:
    spec = SplitSpec("random", {"train": 0.9, "valid": 0.05, "test": 0.05})
    with pytest.raises(ValidationError, match="part 'valid' would get 0 of 3 rows") as info:
        assign_split(spec, _rows(3))
    assert info.value.details == {"part": "valid", "rows": 3}


@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec("random", THREE),
        SplitSpec("stratified", THREE, by="y"),
        SplitSpec("time", THREE, time_column="t"),
    ],
)
def test_empty_table_gives_empty_assignment(spec: SplitSpec) -> None:
    table = pa.table({"y": pa.array([], pa.string()), "t": pa.array([], pa.timestamp("s"))})
    assignment = assign_split(spec, table)
    assert assignment.dtype == np.int8
    assert assignment.size == 0
    assert split_counts(spec, assignment) == {"train": 0, "valid": 0, "test": 0}


@pytest.mark.parametrize(
    "spec",
    [SplitSpec("stratified", THREE, by="label"), SplitSpec("time", THREE, time_column="when")],
)
def test_unknown_column_lists_the_available_ones(spec: SplitSpec) -> None:
    table = pa.table({"y": [1, 2], "t": [1, 2]})
    with pytest.raises(ValidationError, match="is not in the table; available columns: y, t"):
        assign_split(spec, table)
    with pytest.raises(ValidationError, match="available columns"):
        assign_split(spec, table.slice(0, 0))


# -- stratified ------------------------------------------------------------------------


def test_stratified_keeps_class_proportions_in_every_part() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c", "d"], size=20_001, p=[0.6, 0.25, 0.1, 0.05])
    spec = SplitSpec("stratified", THREE, seed=5, by="y")
    assignment = assign_split(spec, pa.table({"y": labels}))
    assert split_counts(spec, assignment) == split_counts(
        spec, assign_split(SplitSpec("random", THREE), _rows(20_001))
    )
    shares = np.array(list(THREE.values()))
    for label in "abcd":
        in_class = labels == label
        counts = np.bincount(assignment[in_class], minlength=3)
        assert np.abs(counts - in_class.sum() * shares).max() < 2


def test_stratified_balances_many_random_class_layouts() -> None:
    rng = np.random.default_rng(1)
    for trial in range(50):
        n = int(rng.integers(30, 2000))
        labels = rng.integers(0, int(rng.integers(1, 50)), n)
        spec = SplitSpec("stratified", {"a": 0.6, "b": 0.3, "c": 0.1}, seed=trial, by="y")
        assignment = assign_split(spec, pa.table({"y": labels}))
        for label in np.unique(labels):
            in_class = labels == label
            counts = np.bincount(assignment[in_class], minlength=3)
            assert np.abs(counts - in_class.sum() * np.array([0.6, 0.3, 0.1])).max() < 2.5


def test_stratified_nulls_are_a_class_and_tiny_classes_are_allowed() -> None:
    labels = ["x"] * 60 + [None] * 30 + ["rare"] * 2 + [f"solo{i}" for i in range(8)]
    spec = SplitSpec("stratified", {"train": 0.7, "test": 0.3}, seed=2, by="y")
    assignment = assign_split(spec, pa.table({"y": labels}))
    assert split_counts(spec, assignment) == {"train": 70, "test": 30}
    nulls = np.bincount(assignment[60:90], minlength=2)
    assert abs(nulls[0] - 21) <= 1
    # the eight single-row classes are not all pushed into train
    assert 0 < (assignment[92:] == 1).sum() < 8


def test_stratified_is_deterministic_and_ignores_chunking_and_encoding() -> None:
    rng = np.random.default_rng(3)
    labels = rng.choice(["no", "yes"], size=5000, p=[0.8, 0.2]).tolist()
    spec = SplitSpec("stratified", THREE, seed=9, by="y")
    whole = assign_split(spec, pa.table({"y": labels}))
    chunked = pa.Table.from_batches(
        [pa.record_batch({"y": labels[:1234]}), pa.record_batch({"y": labels[1234:]})]
    )
    assert np.array_equal(whole, assign_split(spec, chunked))
    encoded = pa.table({"y": pa.array(labels).dictionary_encode()})
    assert np.array_equal(whole, assign_split(spec, encoded))


def test_stratified_on_floats_with_nan_and_booleans() -> None:
    values = [0.5, float("nan"), 1.5, None] * 25
    spec = SplitSpec("stratified", {"a": 0.5, "b": 0.5}, by="y")
    assignment = assign_split(spec, pa.table({"y": values}))
    for offset in range(4):  # 0.5, NaN, 1.5 and null are four classes of 25
        assert abs(np.bincount(assignment[offset::4], minlength=2)[0] - 12.5) < 2
    flags = assign_split(spec, pa.table({"y": [True, False] * 10}))
    assert abs(np.bincount(flags[::2], minlength=2)[0] - 5) < 2


# -- time ------------------------------------------------------------------------------


def test_time_split_orders_parts_by_time() -> None:
    rng = np.random.default_rng(4)
    stamps = rng.integers(0, 10**9, 10_000)
    spec = SplitSpec("time", THREE, time_column="t")
    table = pa.table({"t": pa.array(stamps * 1000, pa.timestamp("ms", tz="UTC"))})
    assignment = assign_split(spec, table)
    assert split_counts(spec, assignment) == {"train": 7000, "valid": 1500, "test": 1500}
    for earlier, later in ((0, 1), (1, 2)):
        assert stamps[assignment == earlier].max() <= stamps[assignment == later].min()


def test_time_ties_at_a_boundary_stay_together_on_the_closer_side() -> None:
    spec = SplitSpec("time", {"train": 0.5, "test": 0.5}, time_column="t")
    # the cut at row 5 falls inside the group of 4s (rows 3..6): closer to its end? no,
    # 2 rows each side -> exact tie -> the whole group goes to the later part
    values = [1, 2, 3, 4, 4, 4, 4, 5, 6, 7]
    assignment = assign_split(spec, pa.table({"t": values[::-1]}))[::-1]
    assert assignment.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    # one row less of the group before the cut than after -> still later; one more -> earlier
    values = [1, 2, 3, 3, 4, 4, 4, 5, 6, 7]
    assert assign_split(spec, pa.table({"t": values})).tolist() == [0] * 4 + [1] * 6
    values = [1, 2, 3, 4, 4, 4, 5, 6, 7, 8]
    assert assign_split(spec, pa.table({"t": values})).tolist() == [0] * 6 + [1] * 4


def test_time_split_is_stable_on_many_ties() -> None:
    rng = np.random.default_rng(5)
    days = rng.integers(0, 30, 50_000)
    spec = SplitSpec("time", THREE, time_column="d")
    assignment = assign_split(spec, pa.table({"d": pa.array(days, pa.int32())}))
    for day in range(30):
        assert len(set(assignment[days == day].tolist())) == 1  # a day is never cut
    counts = split_counts(spec, assignment)
    assert abs(counts["train"] - 35_000) < 50_000 / 30


@pytest.mark.parametrize(
    "column",
    [
        pa.array(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-04"] * 5),
        pa.array([dt.date(2024, 1, d) for d in (3, 1, 2, 4)] * 5, pa.date32()),
        pa.array([3.0, 1.0, 2.0, 4.0] * 5),
        pa.array([3, 1, 2, 4] * 5, pa.uint16()),
    ],
)
def test_time_split_on_strings_dates_and_numbers(column: pa.Array) -> None:
    spec = SplitSpec("time", {"early": 0.5, "late": 0.5}, time_column="t")
    assignment = assign_split(spec, pa.table({"t": column}))
    assert assignment.tolist() == [1, 0, 0, 1] * 5


def test_time_nulls_and_nan_are_errors() -> None:
    spec = SplitSpec("time", THREE, time_column="t")
    with pytest.raises(ValidationError, match="has 1 null or NaN value"):
        assign_split(
            spec,
            pa.table(
                {"t": pa.array([dt.datetime(2024, 1, 1), None] + [dt.datetime(2024, 1, 2)] * 20)}
            ),
        )
    with pytest.raises(ValidationError, match="has 2 null or NaN value"):
        assign_split(spec, pa.table({"t": [1.0, float("nan"), None] + [2.0] * 20}))


@pytest.mark.parametrize(
    "column",
    [
        pa.array([True, False]),
        pa.array([[1], [2]]),
        pa.array([1, 2], pa.duration("s")),
        pa.array([b"a", b"b"]),
    ],
)
def test_time_column_of_the_wrong_type(column: pa.Array) -> None:
    spec = SplitSpec("time", {"a": 0.5, "b": 0.5}, time_column="t")
    with pytest.raises(ValidationError, match="use a timestamp, date, number"):
        assign_split(spec, pa.table({"t": column}))


def test_time_split_where_ties_empty_a_part() -> None:
    spec = SplitSpec("time", THREE, time_column="t")
    with pytest.raises(ValidationError, match=r"part 'valid' would get 0 of 100 rows.*same 't'"):
        assign_split(spec, pa.table({"t": [1] * 100}))


# -- split_counts ----------------------------------------------------------------------


def test_split_counts_rejects_foreign_assignments() -> None:
    spec = SplitSpec("random", THREE)
    assert split_counts(spec, np.array([2, 2, 0], dtype=np.int8)) == {
        "train": 1,
        "valid": 0,
        "test": 2,
    }
    with pytest.raises(ValidationError, match=r"outside 0\.\.2"):
        split_counts(spec, np.array([0, 3]))
    with pytest.raises(ValidationError, match=r"outside 0\.\.2"):
        split_counts(spec, np.array([-1]))
    with pytest.raises(ValidationError, match="1-D integer array"):
        split_counts(spec, np.zeros((2, 2), dtype=np.int8))
    with pytest.raises(ValidationError, match="1-D integer array"):
        split_counts(spec, np.array([0.0, 1.0]))


# -- determinism and speed -------------------------------------------------------------

# Run both in a fresh interpreter and in this one: the same code must give the same bytes.
_DIGEST_SCRIPT = """
import hashlib
import numpy as np, pyarrow as pa
from modelyard.data.splits import SplitSpec, assign_split

def digests():
    rng = np.random.default_rng(0)
    table = pa.table({"y": rng.integers(0, 7, 20_000), "t": rng.integers(0, 1000, 20_000)})
    fractions = {"a": 0.5, "b": 0.3, "c": 0.2}
    specs = (
        SplitSpec("random", fractions, seed=11),
        SplitSpec("stratified", fractions, seed=11, by="y"),
        SplitSpec("time", fractions, time_column="t"),
    )
    return [hashlib.sha256(assign_split(s, table).tobytes()).hexdigest() for s in specs]

if __name__ == "__main__":
    print("\\n".join(digests()))
"""


def test_assignments_are_identical_across_processes() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", _DIGEST_SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    namespace: dict[str, Any] = {"__name__": "in_process"}
    exec(compile(_DIGEST_SCRIPT, "<digests>", "exec"), namespace)
    here = namespace["digests"]()
    assert result.stdout.split() == here
    assert len(set(here)) == 3


@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec("random", THREE, seed=1),
        SplitSpec("stratified", THREE, seed=1, by="y"),
        SplitSpec("time", THREE, time_column="t"),
    ],
)
def test_a_million_rows_take_under_a_second(spec: SplitSpec) -> None:
    rng = np.random.default_rng(6)
    n = 1_000_000
    table = pa.table(
        {
            "y": rng.integers(0, 20, n),
            "t": pa.array(rng.integers(0, 2 * 10**12, n), pa.timestamp("ms")),
        }
    )
    start = time.perf_counter()
    assignment = assign_split(spec, table)
    elapsed = time.perf_counter() - start
    assert split_counts(spec, assignment) == {"train": 700_000, "valid": 150_000, "test": 150_000}
    assert elapsed < 1.0
