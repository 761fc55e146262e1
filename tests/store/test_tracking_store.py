"""Contract tests: every backend (SQLite, PostgreSQL) must pass each of these."""

from __future__ import annotations

import math

import pytest

from modelyard.exceptions import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from modelyard.store import ArtifactEntry, Metric, TrackingStore


def _run(store: TrackingStore, experiment: str = "exp", **kwargs: object) -> str:
    exp = store.get_or_create_experiment(experiment)
    return store.create_run(exp.experiment_id, **kwargs).run_id  # type: ignore[arg-type]


def test_experiments_are_unique_by_name(store: TrackingStore) -> None:
    created = store.create_experiment("churn", tags={"team": "risk"})
    assert created.name == "churn"
    assert created.tags == {"team": "risk"}
    with pytest.raises(AlreadyExistsError, match="churn"):
        store.create_experiment("churn")
    assert store.get_or_create_experiment("churn").experiment_id == created.experiment_id
    assert [e.name for e in store.list_experiments()] == ["churn"]


def test_unknown_experiment_is_not_found(store: TrackingStore) -> None:
    with pytest.raises(NotFoundError, match="no experiment with id 999"):
        store.get_experiment(999)
    assert store.get_experiment_by_name("nope") is None
    with pytest.raises(NotFoundError):
        store.create_run(999)


def test_run_lifecycle(store: TrackingStore) -> None:
    run_id = _run(store, name="first", user_id="ada", tags={"stage": "dev"})
    run = store.get_run(run_id)
    assert run.info.status == "RUNNING"
    assert run.info.end_time is None
    assert run.info.user_id == "ada"
    assert run.data.tags == {"stage": "dev"}
    info = store.update_run(run_id, status="FINISHED")
    assert info.status == "FINISHED"
    assert info.end_time is not None
    assert info.end_time >= info.start_time
    with pytest.raises(ValidationError, match="DONE"):
        store.update_run(run_id, status="DONE")


def test_nested_runs_record_the_parent(store: TrackingStore) -> None:
    parent = _run(store, name="parent")
    child = _run(store, name="child", parent_run_id=parent)
    assert store.get_run(child).info.parent_run_id == parent
    with pytest.raises(NotFoundError, match="parent run"):
        _run(store, parent_run_id="f" * 32)


def test_unknown_run_id(store: TrackingStore) -> None:
    missing = "0" * 32
    with pytest.raises(NotFoundError, match=missing):
        store.get_run(missing)
    with pytest.raises(NotFoundError, match=missing):
        store.log_metric(missing, "auc", 0.5)
    with pytest.raises(NotFoundError, match=missing):
        store.log_batch(missing, params={"a": 1})
    with pytest.raises(NotFoundError):
        store.get_metric_history(missing, "auc")
    with pytest.raises(ValidationError, match="not a run id"):
        store.get_run("../../etc/passwd")


def test_every_metric_point_is_kept_and_latest_is_highest_step(store: TrackingStore) -> None:
    run_id = _run(store)
    for step, value in [(0, 0.5), (2, 0.7), (1, 0.9)]:  # out of order on purpose
        store.log_metric(run_id, "auc", value, step=step, timestamp=1000 + step)
    history = store.get_metric_history(run_id, "auc")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.9), (2, 0.7)]
    assert store.get_run(run_id).data.metrics == {"auc": 0.7}
    store.log_metric(run_id, "auc", 0.8, step=2, timestamp=2000)  # same step, newer
    assert store.get_run(run_id).data.metrics == {"auc": 0.8}
    assert len(store.get_metric_history(run_id, "auc")) == 4


def test_special_float_values_round_trip(store: TrackingStore) -> None:
    run_id = _run(store)
    store.log_batch(
        run_id,
        metrics=[
            Metric("nan", math.nan, 0, 1),
            Metric("inf", math.inf, 0, 1),
            Metric("neg", -math.inf, 0, 1),
            Metric("tiny", 5e-324, 0, 1),
            Metric("int", 3, 0, 1),
        ],
    )
    got = store.get_run(run_id).data.metrics
    assert math.isnan(got["nan"])
    assert got["inf"] == math.inf
    assert got["neg"] == -math.inf
    assert got["tiny"] == 5e-324
    assert got["int"] == 3.0
    assert math.isnan(store.get_metric_history(run_id, "nan")[0].value)


def test_log_batch_is_atomic(store: TrackingStore) -> None:
    run_id = _run(store)
    store.log_batch(run_id, params={"lr": 0.1})
    with pytest.raises(ConflictError, match="lr"):
        store.log_batch(
            run_id, metrics=[Metric("auc", 0.9, 0, 1)], params={"lr": 0.2}, tags={"t": "x"}
        )
    run = store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics == {}
    assert run.data.tags == {}
    with pytest.raises(ValidationError):
        store.log_batch(run_id, metrics=[Metric("ok", 1.0, 0, 1), Metric("bad", "x", 0, 1)])  # type: ignore[arg-type]
    assert store.get_run(run_id).data.metrics == {}


def test_params_are_immutable_but_relogging_the_same_value_is_fine(store: TrackingStore) -> None:
    run_id = _run(store)
    store.log_batch(run_id, params={"model": "rf", "depth": 3})
    store.log_batch(run_id, params={"model": "rf"})
    with pytest.raises(ConflictError, match="immutable"):
        store.log_batch(run_id, params={"depth": 4})
    assert store.get_run(run_id).data.params == {"model": "rf", "depth": "3"}


def test_tags_can_be_overwritten(store: TrackingStore) -> None:
    run_id = _run(store)
    store.log_batch(run_id, tags={"stage": "dev"})
    store.log_batch(run_id, tags={"stage": "prod", "owner": "ada"})
    assert store.get_run(run_id).data.tags == {"stage": "prod", "owner": "ada"}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("k" * 251, "limit is 250"),
        ("a\x00b", "not allowed"),
        ("/abs", "not allowed"),
        ("a/../b", "not allowed"),
        ("semi;colon", "not allowed"),
        (42, "must be a string"),
    ],
)
def test_bad_keys_are_rejected(store: TrackingStore, key: object, message: str) -> None:
    run_id = _run(store)
    with pytest.raises(ValidationError, match=message):
        store.log_metric(run_id, key, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=message):
        store.log_batch(run_id, params={key: 1})  # type: ignore[dict-item]


@pytest.mark.parametrize("value", ["0.9", None, [1.0], {"a": 1}, b"1", object()])
def test_metric_values_must_be_numbers(store: TrackingStore, value: object) -> None:
    run_id = _run(store)
    with pytest.raises(ValidationError, match="must be a number"):
        store.log_metric(run_id, "auc", value)  # type: ignore[arg-type]


def test_bad_steps_and_long_values_are_rejected(store: TrackingStore) -> None:
    run_id = _run(store)
    with pytest.raises(ValidationError, match="integer"):
        store.log_metric(run_id, "auc", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="64-bit"):
        store.log_metric(run_id, "auc", 1.0, step=2**70)
    with pytest.raises(ValidationError, match="6000"):
        store.log_batch(run_id, params={"long": "x" * 6001})
    with pytest.raises(ValidationError, match="8000"):
        store.log_batch(run_id, tags={"long": "x" * 8001})
    with pytest.raises(ValidationError, match="NUL"):
        store.log_batch(run_id, tags={"nul": "a\x00b"})
    with pytest.raises(ValidationError, match="experiment name"):
        store.create_experiment("")


def test_hostile_strings_are_stored_verbatim(store: TrackingStore) -> None:
    run_id = _run(store)
    hostile = "'; DROP TABLE runs; --"
    store.log_batch(run_id, params={"p": hostile}, tags={"t": "ünïcødé ✓ \u202e"})
    run = store.get_run(run_id)
    assert run.data.params["p"] == hostile
    assert run.data.tags["t"] == "ünïcødé ✓ \u202e"


def test_large_batch_in_one_transaction(store: TrackingStore) -> None:
    run_id = _run(store)
    points = [Metric(f"m{i % 50}", float(i), i // 50, 1) for i in range(10_000)]
    store.log_batch(run_id, metrics=points, params={f"p{i}": i for i in range(200)})
    run = store.get_run(run_id)
    assert len(run.data.metrics) == 50
    assert run.data.metrics["m0"] == 9950.0
    assert len(store.get_metric_history(run_id, "m7")) == 200


def test_artifacts_manifest(store: TrackingStore) -> None:
    run_id = _run(store)
    store.add_artifacts(
        run_id,
        [ArtifactEntry("model/model.skops", "a" * 64, 10), ArtifactEntry("a.txt", "b" * 64, 1)],
    )
    store.add_artifacts(run_id, [ArtifactEntry("a.txt", "c" * 64, 2)])  # replace
    assert [e.path for e in store.list_artifacts(run_id)] == ["a.txt", "model/model.skops"]
    assert store.get_artifact(run_id, "a.txt") == ArtifactEntry("a.txt", "c" * 64, 2)
    assert [e.path for e in store.list_artifacts(run_id, "model/")] == ["model/model.skops"]
    with pytest.raises(NotFoundError, match=r"missing\.txt"):
        store.get_artifact(run_id, "missing.txt")
