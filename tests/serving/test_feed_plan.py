"""FeedPlan, the fast path: the same feeds and the same errors as the detailed codec.

The plan may only accept what the codec accepts unchanged, and must then build exactly
the codec's feeds (values, dtypes, shapes, column order); everything else must go to the
codec, whose error names the problem. Checked on hand-picked hostile values and on
thousands of seeded random requests mixing good and bad values.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from modelyard.exceptions import ModelyardError
from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving import codec
from modelyard.serving._blocks import BlockFeeds
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


# Without datetimes, a one-row request keeps its values as Python tuples until its batch
# (BlockFeeds.row); with them it takes the array path. Every test runs on both.
NO_DATETIME: dict[str, Any] = {
    "inputs": [c for c in SIGNATURE["inputs"] if c["kind"] != "datetime"]
}


class Case:
    """One signature, its plan, and the checks the tests run against it."""

    def __init__(self, signature: dict[str, Any]) -> None:
        self.signature = signature
        self.plan = FeedPlan(signature)
        self.names = [c["name"] for c in signature["inputs"]]

    def record(self, **overrides: Any) -> dict[str, Any]:
        """A good row, with ``overrides`` (which may add columns)."""
        row = {name: GOOD[name][0] for name in self.names}
        row.update(overrides)
        return row

    def detailed(self, payload: Any) -> Any:
        return codec.feeds_from_v1(payload, self.signature, max_rows=100)

    def assert_same(self, payload: Any) -> None:
        """The plan's feeds are the detailed codec's, or both raise the same error."""

        def outcome(plan: FeedPlan | None) -> Any:
            try:
                return codec.feeds_from_v1(payload, self.signature, max_rows=50, plan=plan)
            except ModelyardError as exc:
                return (type(exc), str(exc), exc.http_status)

        detailed, fast = outcome(None), outcome(self.plan)
        if isinstance(detailed, tuple):
            assert fast == detailed, payload
            return
        assert_same_feeds(fast, detailed, payload)


def assert_same_feeds(fast: Any, detailed: Mapping[str, np.ndarray], context: Any) -> None:
    assert isinstance(fast, Mapping), context
    assert list(fast) == list(detailed), context  # the signature's order
    assert len(fast) == len(detailed), context
    assert all(name in fast for name in detailed), context
    for name, expected in detailed.items():
        got = fast[name]
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        assert got.flags["C_CONTIGUOUS"], name  # ONNX Runtime takes it without a copy
        if expected.dtype == object:
            assert got.tolist() == expected.tolist(), name
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)


@pytest.fixture(params=["datetime", "no_datetime"])
def case(request: pytest.FixtureRequest) -> Case:
    return Case(SIGNATURE if request.param == "datetime" else NO_DATETIME)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_every_good_value_gives_the_codecs_feeds(case: Case, name: str) -> None:
    for value in GOOD[name]:
        case.assert_same({"records": [case.record(**{name: value})]})
        case.assert_same({"records": [case.record(), case.record(**{name: value}), case.record()]})


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_bad_value_gets_the_codecs_answer(case: Case, name: str) -> None:
    for value in BAD[name]:
        case.assert_same({"records": [case.record(**{name: value})]})
        case.assert_same({"records": [case.record(), case.record(**{name: value})]})
        row = case.record(**{name: value})
        case.assert_same({"columns": list(row), "data": [list(row.values())]})


def test_the_fast_path_builds_the_feeds_of_a_good_request(case: Case) -> None:
    planned = case.plan.from_records([case.record(plan="", region=None)], max_rows=10)
    assert planned is not None
    feeds, rows = planned
    assert rows == 1
    expected = ["age", "plan", "vip", "since", "spend", "region"]
    assert list(feeds) == [name for name in expected if name in case.names]
    assert feeds["plan"].tolist() == [[EMPTY_LEVEL]]
    assert feeds["region"].tolist() == [[""]]
    assert feeds["vip"].dtype == np.float64
    if "since" in case.names:
        assert feeds["since"].dtype == np.int64


@pytest.mark.parametrize(
    "make",
    [
        lambda r: {"records": []},
        lambda r: {"records": {}},
        lambda r: {"records": [r(), 3]},
        lambda r: {"records": [[1, 2]]},
        lambda r: {"records": [r(extra=1)]},
        lambda r: {"records": [{k: v for k, v in r().items() if k != "age"}]},
        lambda r: {"records": [r(), {k: v for k, v in r().items() if k != "age"}]},
        lambda r: {"records": [r()] * 51},
        lambda r: {"records": [r()], "more": 1},
        lambda r: {"columns": ["age", "age"], "data": [[1, 2]]},
        lambda r: {"columns": list(r()), "data": [list(r().values())[:-1]]},
        lambda r: {"columns": list(r()), "data": []},
        lambda r: {"columns": [*r(), 5], "data": [[*r().values(), 1]]},
        lambda r: {"columns": list(r()), "data": "rows"},
        lambda r: {"columns": "age", "data": [[1]]},
        lambda r: {"columns": list(r()), "data": [tuple(r().values())]},
        lambda r: {"columns": list(r())},
        lambda r: {},
        lambda r: [],
        lambda r: "records",
        lambda r: None,
    ],
)
def test_malformed_requests_get_the_codecs_errors(case: Case, make: Any) -> None:
    case.assert_same(make(case.record))


def test_unused_columns_may_be_sent_or_left_out(case: Case) -> None:
    without = {k: v for k, v in case.record().items() if k != "note"}
    case.assert_same({"records": [without]})
    case.assert_same({"records": [case.record(note=12)]})  # never read, so never checked
    assert case.plan.from_records([without], max_rows=1) is not None


def test_seeded_random_requests_agree(case: Case) -> None:
    rng = random.Random(20261121)
    names = case.names
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
            case.assert_same(
                {"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]}
            )
        else:
            case.assert_same({"records": rows})


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


def test_one_row_requests_batched_give_the_codecs_feeds_of_all_their_rows(case: Case) -> None:
    """The batch stacks one-row requests (kept as values) with one call per block: the
    result must be the detailed codec's feeds of the same rows, in order."""
    rng = random.Random(7)
    names = [c["name"] for c in case.signature["inputs"] if c.get("used", True)]
    for size in (1, 2, 3, 16, 64):
        rows = [{name: rng.choice(GOOD[name]) for name in names} for _ in range(size)]
        parts = []
        for row in rows:
            planned = case.plan.from_records([row], max_rows=5)
            assert planned is not None, row
            parts.append(planned[0])
        batch = BlockFeeds.concat(parts)
        assert batch is not None
        assert batch.rows == size
        detailed = case.detailed({"records": rows})
        assert_same_feeds(batch, detailed, rows)
        # Built one by one, then joined: the same again.
        for part in parts:
            assert part.blocks
        assert_same_feeds(BlockFeeds.concat(parts), detailed, rows)


@pytest.mark.parametrize(
    "value", [1e308, float("nan"), float("inf"), -float("inf"), 10**400, -(10**400), 2**1023]
)
def test_sums_that_overflow_or_values_that_do_not_fit_take_the_detailed_path(
    case: Case, value: Any
) -> None:
    """The one-row check sums the numbers: an overflowing sum of finite values must still
    be accepted (by the detailed path), a non-finite or too large value refused."""
    case.assert_same({"records": [case.record(age=value, spend=value)]})
    case.assert_same({"records": [case.record(age=value, spend=None)]})
    other = -value if isinstance(value, int) else 1
    case.assert_same({"records": [case.record(age=value, spend=other)]})
