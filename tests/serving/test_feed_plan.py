"""FeedPlan, the fast path: the same feeds and the same errors as the detailed codec.

The plan may only accept what the codec accepts unchanged, and must then build exactly
the codec's feeds (values, dtypes, shapes, column order); everything else must go to the
codec, whose error names the problem. Checked on hand-picked hostile values and on
thousands of seeded random requests mixing good and bad values.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from modelyard.exceptions import ModelyardError
from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving import codec
from modelyard.serving._feed_plan import FeedPlan

# Kinds interleaved on purpose: feeds must keep this order, whatever the plan groups.
SIGNATURE: dict[str, Any] = {
    "inputs": [
        {"name": "age", "kind": "numeric"},
        {"name": "plan", "kind": "categorical", "levels": ["basic", "pro"]},
        {"name": "vip", "kind": "boolean"},
        {"name": "since", "kind": "datetime"},
        {"name": "note", "kind": "categorical", "used": False},
        {"name": "spend", "kind": "numeric"},
        {"name": "region", "kind": "categorical"},
    ]
}
PLAN = FeedPlan(SIGNATURE)
GOOD: dict[str, list[Any]] = {
    "age": [0, 41, -3, 2.5, 1e300, 2**63, None],
    "plan": ["basic", "pro", "", "unseen", "ünïcödé", None],
    "vip": [True, False, 0, 1, 0.0, 1.0, None],
    "since": ["2024-05-01", "2024-05-01T12:30:00.5+02:00", "1999-12-31T23:59:59Z", None],
    "spend": [0.0, 12.75, -1, None],
    "region": ["north", "south", None, ""],
    "note": ["anything", None, 3],
}
BAD: dict[str, list[Any]] = {
    "age": ["42", True, float("nan"), float("inf"), [1], {"a": 1}, 10**400],
    "plan": [3, 2.5, True, ["x"], float("nan")],  # numbers become text on the detailed path
    "vip": [2, -1, 0.5, "true", float("nan"), [True]],
    "since": [1714566600, "yesterday", "2024-13-01", "9999-01-01", "x" * 100, True],
    "spend": [float("-inf"), "1", None],
    "region": [{"x": 1}, 7],
    "note": [None],
}


def both(payload: Any) -> tuple[Any, Any]:
    """(detailed result or error, fast-path result or error) for one payload."""

    def outcome(plan: FeedPlan | None) -> Any:
        try:
            return codec.feeds_from_v1(payload, SIGNATURE, max_rows=50, plan=plan)
        except ModelyardError as exc:
            return (type(exc), str(exc), exc.http_status)

    return outcome(None), outcome(PLAN)


def assert_same(payload: Any) -> None:
    detailed, fast = both(payload)
    if isinstance(detailed, tuple):
        assert fast == detailed, payload
        return
    assert isinstance(fast, dict), payload
    assert list(fast) == list(detailed), payload  # the signature's order
    for name, expected in detailed.items():
        got = fast[name]
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        assert got.flags["C_CONTIGUOUS"], name  # ONNX Runtime takes it without a copy
        if expected.dtype == object:
            assert got.tolist() == expected.tolist(), name
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)


def record(**overrides: Any) -> dict[str, Any]:
    row = {name: values[0] for name, values in GOOD.items()}
    row.update(overrides)
    return row


@pytest.mark.parametrize("name", sorted(GOOD))
def test_every_good_value_gives_the_codecs_feeds(name: str) -> None:
    for value in GOOD[name]:
        assert_same({"records": [record(**{name: value})]})
        assert_same({"records": [record(), record(**{name: value}), record()]})


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_bad_value_gets_the_codecs_answer(name: str) -> None:
    for value in BAD[name]:
        assert_same({"records": [record(**{name: value})]})
        assert_same({"records": [record(), record(**{name: value})]})
        row = record(**{name: value})
        assert_same({"columns": list(row), "data": [list(row.values())]})


def test_the_fast_path_builds_the_feeds_of_a_good_request() -> None:
    planned = PLAN.from_records([record(plan="", region=None)], max_rows=10)
    assert planned is not None
    feeds, rows = planned
    assert rows == 1
    assert list(feeds) == ["age", "plan", "vip", "since", "spend", "region"]
    assert feeds["plan"].tolist() == [[EMPTY_LEVEL]]
    assert feeds["region"].tolist() == [[""]]
    assert feeds["vip"].dtype == np.float64
    assert feeds["since"].dtype == np.int64


@pytest.mark.parametrize(
    "payload",
    [
        {"records": []},
        {"records": {}},
        {"records": [record(), 3]},
        {"records": [[1, 2]]},
        {"records": [record(extra=1)]},
        {"records": [{k: v for k, v in record().items() if k != "age"}]},
        {"records": [record(), {k: v for k, v in record().items() if k != "age"}]},
        {"records": [record()] * 51},
        {"records": [record()], "more": 1},
        {"columns": ["age", "age"], "data": [[1, 2]]},
        {"columns": list(record()), "data": [list(record().values())[:-1]]},
        {"columns": list(record()), "data": []},
        {"columns": [*record(), 5], "data": [[*record().values(), 1]]},
        {"columns": list(record()), "data": "rows"},
        {"columns": "age", "data": [[1]]},
        {"columns": list(record()), "data": [tuple(record().values())]},
        {"columns": list(record())},
        {},
        [],
        "records",
        None,
    ],
)
def test_malformed_requests_get_the_codecs_errors(payload: Any) -> None:
    assert_same(payload)


def test_unused_columns_may_be_sent_or_left_out() -> None:
    without = {k: v for k, v in record().items() if k != "note"}
    assert_same({"records": [without]})
    assert_same({"records": [record(note=12)]})  # never read, so never checked
    assert PLAN.from_records([without], max_rows=1) is not None


def test_seeded_random_requests_agree() -> None:
    rng = random.Random(20261121)
    names = list(GOOD)
    for _ in range(3000):
        rows = []
        for _row in range(rng.choice([1, 1, 2, 5])):
            row = {}
            for name in names:
                roll = rng.random()
                if roll < 0.05:
                    continue  # absent from this row
                pool = BAD[name] if roll > 0.97 else GOOD[name]
                row[name] = rng.choice(pool)
            if rng.random() < 0.01:
                row["surprise"] = 1
            rows.append(row)
        if rng.random() < 0.3:
            columns = sorted({k for row in rows for k in row})
            assert_same({"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]})
        else:
            assert_same({"records": rows})


def test_a_signature_of_one_kind_only() -> None:
    numeric = {"inputs": [{"name": "x", "kind": "numeric"}, {"name": "y", "kind": "numeric"}]}
    plan = FeedPlan(numeric)
    planned = plan.from_records([{"x": 1, "y": None}, {"x": 2.5, "y": 3}], max_rows=5)
    assert planned is not None
    feeds, rows = planned
    assert rows == 2
    assert feeds["x"].tolist() == [[1.0], [2.5]]
    assert np.isnan(feeds["y"][0, 0])
    assert feeds["y"][1, 0] == 3.0
