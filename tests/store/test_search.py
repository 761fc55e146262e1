"""Search contract: filters, ordering and paging, on every backend."""

from __future__ import annotations

import pytest

from modelyard.exceptions import FilterSyntaxError, ValidationError
from modelyard.store import Metric, TrackingStore


@pytest.fixture
def populated(store: TrackingStore) -> tuple[TrackingStore, int, dict[str, str]]:
    exp = store.create_experiment("search").experiment_id
    ids = {}
    specs = [
        ("rf-a", "rf", 0.91, "risk"),
        ("rf-b", "rf", 0.85, "growth"),
        ("gbm-a", "gbm", 0.95, "risk"),
        ("lr-a", "lr", 0.70, None),
    ]
    for i, (name, model, auc, team) in enumerate(specs):
        run_id = store.create_run(exp, name=name, start_time=1000 + i).run_id
        tags = {"team": team} if team else {}
        store.log_batch(
            run_id,
            metrics=[Metric("auc", auc, 0, 1), Metric("loss", 1 - auc, 0, 1)],
            params={"model": model, "depth": str(i)},
            tags=tags,
        )
        ids[name] = run_id
    store.update_run(ids["lr-a"], status="FAILED")
    other = store.create_experiment("other").experiment_id
    store.log_metric(store.create_run(other, name="elsewhere").run_id, "auc", 0.99)
    return store, exp, ids


def _names(store: TrackingStore, exp: int, filter_string: str | None, **kw: object) -> list[str]:
    page = store.search_runs([exp], filter_string=filter_string, **kw)  # type: ignore[arg-type]
    return [r.info.name for r in page.runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (None, ["lr-a", "gbm-a", "rf-b", "rf-a"]),
        ("metrics.auc > 0.9", ["gbm-a", "rf-a"]),
        ("metrics.auc >= 0.91 and params.model = 'rf'", ["rf-a"]),
        ("params.model = 'rf' or params.model = 'lr'", ["lr-a", "rf-b", "rf-a"]),
        ("(tags.team = 'risk' or tags.team = 'growth') and metrics.loss < 0.08", ["gbm-a"]),
        ("params.model IN ('gbm', 'lr')", ["lr-a", "gbm-a"]),
        ("params.model NOT IN ('gbm', 'lr')", ["rf-b", "rf-a"]),
        ("run_name LIKE 'rf-%'", ["rf-b", "rf-a"]),
        ("run_name LIKE 'RF-%'", []),
        ("attributes.run_name ILIKE 'RF-%'", ["rf-b", "rf-a"]),
        ("status = 'FAILED'", ["lr-a"]),
        ("attributes.status != 'FAILED' AND metrics.auc < 0.9", ["rf-b"]),
        ("tags.team IS NULL", ["lr-a"]),
        ("metrics.`auc` = 0.95", ["gbm-a"]),
        ("metrics.missing > 0", []),
        ("start_time >= 1002", ["lr-a", "gbm-a"]),
        ("params.model = 'x'' OR 1=1 --'", []),
    ],
)
def test_filters(
    populated: tuple[TrackingStore, int, dict[str, str]],
    filter_string: str | None,
    expected: list[str],
) -> None:
    store, exp, _ = populated
    assert _names(store, exp, filter_string) == expected


def test_order_by_metric_and_param(populated: tuple[TrackingStore, int, dict[str, str]]) -> None:
    store, exp, _ = populated
    assert _names(store, exp, None, order_by=["metrics.auc DESC"]) == [
        "gbm-a",
        "rf-a",
        "rf-b",
        "lr-a",
    ]
    assert _names(store, exp, None, order_by=["metrics.loss"]) == ["gbm-a", "rf-a", "rf-b", "lr-a"]
    assert _names(store, exp, None, order_by=["params.model", "metrics.auc DESC"]) == [
        "gbm-a",
        "lr-a",
        "rf-a",
        "rf-b",
    ]
    # runs without the metric sort last, whatever the direction
    assert _names(store, exp, None, order_by=["metrics.nothere DESC"])[0] == "lr-a"


def test_paging_visits_every_run_once(store: TrackingStore) -> None:
    exp = store.create_experiment("paging").experiment_id
    made = {store.create_run(exp, start_time=i).run_id for i in range(23)}
    seen: list[str] = []
    token = None
    while True:
        page = store.search_runs([exp], max_results=5, page_token=token)
        seen.extend(r.run_id for r in page.runs)
        token = page.next_page_token
        if token is None:
            break
    assert len(seen) == 23
    assert set(seen) == made


def test_search_returns_data(populated: tuple[TrackingStore, int, dict[str, str]]) -> None:
    store, exp, ids = populated
    page = store.search_runs([exp], filter_string="params.model = 'gbm'")
    (run,) = page.runs
    assert run.run_id == ids["gbm-a"]
    assert run.data.metrics == {"auc": 0.95, "loss": pytest.approx(0.05)}
    assert run.data.params == {"model": "gbm", "depth": "2"}
    assert page.to_pandas()["metrics.auc"].tolist() == [0.95]


@pytest.mark.parametrize(
    ("bad", "position", "message"),
    [
        ("metrics.auc >", 13, "expected a number"),
        ("metrics.auc > 0.9 and", 21, "expected a field"),
        ("metrics.auc >> 0.9", 13, "expected a number"),
        ("metrics.auc > 'high'", 14, "numeric"),
        ("params.model > 'rf'", 13, "does not apply"),
        ("params.model = rf", 15, "expected a number or a quoted string"),
        ("colour = 'red'", 0, "unknown attribute 'colour'"),
        ("(metrics.auc > 0.9", 18, "to close the parenthesis"),
        ("metrics.auc > 0.9 params.x = 'a'", 18, "expected 'and', 'or'"),
        ("metrics.auc ~ 1", 12, "unexpected character '~'"),
        ("params.model = 'unterminated", 15, "unexpected character"),
    ],
)
def test_filter_syntax_errors_point_at_the_token(
    store: TrackingStore, bad: str, position: int, message: str
) -> None:
    exp = store.create_experiment("errors").experiment_id
    with pytest.raises(FilterSyntaxError, match=message) as info:
        store.search_runs([exp], filter_string=bad)
    assert info.value.position == position
    assert str(info.value).endswith(" " * position + "^")


def test_bad_order_by_and_paging_arguments(store: TrackingStore) -> None:
    exp = store.create_experiment("errors").experiment_id
    with pytest.raises(FilterSyntaxError, match="ASC, DESC"):
        store.search_runs([exp], order_by=["metrics.auc SIDEWAYS"])
    with pytest.raises(ValidationError, match="max_results"):
        store.search_runs([exp], max_results=0)
    with pytest.raises(ValidationError, match="max_results"):
        store.search_runs([exp], max_results=10**9)
    with pytest.raises(ValidationError, match="page_token"):
        store.search_runs([exp], page_token="not-a-token")
    with pytest.raises(ValidationError, match="limit is 10"):
        store.search_runs([exp], order_by=["metrics.a"] * 11)
    with pytest.raises(FilterSyntaxError, match="must be a string"):
        store.search_runs([exp], order_by=[42])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("(" * 2_000 + "metrics.a > 1" + ")" * 2_000, "nest deeper than 32"),
        (" and ".join(["metrics.a > 1"] * 101), "more than 100 conditions"),
        ("params.p = '" + "x" * 20_000 + "'", "limit is 10,000"),
    ],
)
def test_huge_or_deeply_nested_filters_are_refused(
    store: TrackingStore, bad: str, message: str
) -> None:
    exp = store.create_experiment("huge").experiment_id
    with pytest.raises(FilterSyntaxError, match=message):
        store.search_runs([exp], filter_string=bad)


def test_the_largest_allowed_filter_runs(store: TrackingStore) -> None:
    exp = store.create_experiment("large").experiment_id
    run_id = store.create_run(exp).run_id
    store.log_metric(run_id, "a", 2.0)
    nested = "(" * 32 + "metrics.a > 1" + ")" * 32
    many = " and ".join(["metrics.a > 1"] * 99 + [nested])
    assert [r.run_id for r in store.search_runs([exp], filter_string=many)] == [run_id]
