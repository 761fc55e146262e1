"""Training jobs end to end: search, ensembles, selection, refit, holdout, tracking."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from modelyard.config import Settings, load_settings
from modelyard.data import DataClient, make_churn
from modelyard.exceptions import MissingDependencyError, ValidationError
from modelyard.tracking import TrackingClient
from modelyard.training import TrainResult, train

# Small forests: the tests check the job's mechanics, not LightGBM's quality, and
# LightGBM's default range (up to 800 trees) was most of each job's time.
FAST = {
    "families": {"linear": {}, "lightgbm": {"n_estimators": {"low": 20, "high": 60}}},
    "cv": {"folds": 3},
    "tuning": {"trials": 4},
    "ensembles": {"average": True, "stacking": False, "top_k": 2},
}


def churn_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    return make_churn(n, seed=seed).drop(columns=["name", "email", "phone", "customer_id"])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, env={}, cwd=tmp_path)


@pytest.fixture
def tracking(settings: Settings) -> Iterator[TrackingClient]:
    client = TrackingClient.from_settings(settings)
    yield client
    client.close()


def run(
    frame: pd.DataFrame, tracking: TrackingClient, settings: Settings, **spec: object
) -> TrainResult:
    return train(frame, "churned", {**FAST, **spec}, tracking=tracking, settings=settings)


@dataclass
class Job:
    """One FAST job on ``churn_frame()``, in its own home (tests only read it)."""

    result: TrainResult
    tracking: TrackingClient


@pytest.fixture(scope="module")
def fast_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Job]:
    home = tmp_path_factory.mktemp("fast-job")
    conf = load_settings(home=home, env={}, cwd=home)
    client = TrackingClient.from_settings(conf)
    try:
        yield Job(run(churn_frame(), client, conf), client)
    finally:
        client.close()


def test_a_job_tracks_every_trial_and_candidate_and_logs_the_model(fast_job: Job) -> None:
    frame = churn_frame()
    result, tracking = fast_job.result, fast_job.tracking
    assert result.task == "binary"
    assert result.metric == "roc_auc"
    names = [row["candidate"] for row in result.leaderboard]
    assert set(names) == {
        "linear",
        "lightgbm",
        "average(linear+lightgbm)",
    }
    assert sum(row["chosen"] for row in result.leaderboard) == 1
    assert 0.7 < result.holdout["roc_auc"] <= 1.0
    linear = next(r for r in result.leaderboard if r["candidate"] == "linear")
    assert linear["aic"] > 0
    assert linear["bic"] > linear["aic"]

    runs = tracking.search_runs("train-dataframe").runs
    parent = next(r for r in runs if r.info.parent_run_id is None)
    children = [r for r in runs if r.info.parent_run_id == parent.run_id]
    trials = [r for r in children if "modelyard.trial" in r.data.tags]
    assert len(trials) == 4
    assert any("modelyard.ensemble" in r.data.tags for r in children)
    one = trials[0]
    assert {"cv_roc_auc", "cv_roc_auc_std", "fit_seconds", "model_size_mb", "latency_ms"} <= set(
        one.data.metrics
    )
    assert [m.step for m in tracking.get_metric_history(one.run_id, "fold_roc_auc")] == [0, 1, 2]
    assert parent.data.tags["modelyard.best"] == result.best.name
    assert parent.data.metrics["holdout_roc_auc"] == pytest.approx(result.holdout["roc_auc"])
    paths = {a.path for a in tracking.list_artifacts(parent.run_id)} | {
        a.path for a in tracking.list_artifacts(parent.run_id, "model")
    }
    assert {
        "leaderboard.json",
        "train_spec.yaml",
        "model/model.skops",
        "model/signature.json",
    } <= paths
    signature = json.loads(tracking.read_artifact(parent.run_id, "model/signature.json"))
    plan = next(c for c in signature["inputs"] if c["name"] == "plan")
    assert plan["levels"] == ["basic", "premium", "standard"]
    assert signature["output"]["classes"] == [0, 1]
    blob = tracking.read_artifact(parent.run_id, "model/model.skops")
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    np.testing.assert_allclose(
        loaded.predict_proba(frame.head(20)), result.predict_proba(frame.head(20))
    )


def test_same_spec_data_and_seed_give_the_same_model(
    fast_job: Job, tracking: TrackingClient, settings: Settings
) -> None:
    frame = churn_frame()
    a = fast_job.result  # the same spec, data and seed, trained in another home
    b = run(frame, tracking, settings)
    assert a.best.name == b.best.name
    assert a.best.params == b.best.params
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))


def test_prefer_simpler_within_picks_the_linear_model(
    tracking: TrackingClient, settings: Settings
) -> None:
    result = run(churn_frame(400), tracking, settings, selection={"prefer_simpler_within": 0.5})
    assert result.best.name == "linear"
    top = result.leaderboard[0]["candidate"]  # the best score, before the rule applies
    if top == "linear":
        assert result.reason.startswith("best roc_auc")
    else:
        assert "simplest within 0.5" in result.reason


def test_a_crashing_trial_is_failed_and_the_search_goes_on(
    tracking: TrackingClient, settings: Settings
) -> None:
    spec = {"families": {"linear": {}, "lightgbm": {"num_leaves": 1}}}
    result = run(churn_frame(), tracking, settings, **spec)
    assert result.best.name == "linear"
    runs = tracking.search_runs("train-dataframe").runs
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed
    assert "num_leaves" in failed[0].data.tags["error"]


def test_regression_and_multiclass(tracking: TrackingClient, settings: Settings) -> None:
    frame = churn_frame()
    reg = train(
        frame,
        "monthly_charges",
        {**FAST, "ensembles": {"average": False}},
        tracking=tracking,
        settings=settings,
    )
    assert reg.task == "regression"
    assert reg.metric == "rmse"
    assert reg.holdout["r2"] > 0.3
    multi = train(
        frame,
        "plan",
        {**FAST, "ensembles": {"average": False}},
        tracking=tracking,
        settings=settings,
    )
    assert multi.task == "multiclass"
    assert set(multi.predict(frame.head(50))) <= {"basic", "standard", "premium"}


def test_a_dataset_reference_excludes_masked_and_identifier_columns_and_uses_its_split(
    tmp_path: Path, settings: Settings, tracking: TrackingClient
) -> None:
    data = DataClient.from_settings(
        load_settings(home=tmp_path, env={}, cwd=tmp_path, mask_key=b"k" * 16)
    )
    try:
        ds = data.ingest(make_churn(600, seed=2), "churn", mask={"email": "hmac", "name": "redact"})
        ds.split("default", kind="stratified", by="churned", seed=0)
        spec = {**FAST, "holdout": {"split": "default", "part": "test"}}
        result = train(
            "churn@1", "churned", spec, tracking=tracking, data_client=data, settings=settings
        )
    finally:
        data.close()
    used = {c["name"] for c in result.signature["inputs"] if c["used"]}
    assert not used & {"email", "name", "customer_id"}  # masked, masked, identifier-like
    assert "tenure_months" in used
    parent = tracking.get_run(result.run_id)
    assert parent.data.params["data"] == "churn@1"
    assert parent.data.params["holdout_rows"] == "90"


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"families": ["svm"]}, ValidationError, "unknown.*svm.*linear"),
        ({"metric": "auc"}, ValidationError, "unknown metric 'auc'.*roc_auc"),
        (
            {"families": {"lightgbm": {"num_leafs": {"low": 2, "high": 8}}}},
            ValidationError,
            "num_leafs",
        ),
        (
            {"families": ["linear"], "metric": "rmse"},
            ValidationError,
            "unknown metric 'rmse' for a binary",
        ),
    ],
)
def test_bad_specs_fail_before_any_trial(
    tracking: TrackingClient,
    settings: Settings,
    spec: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        train(churn_frame(200), "churned", {**FAST, **spec}, tracking=tracking, settings=settings)
    assert "train-dataframe" not in [e.name for e in tracking.list_experiments()]


def test_a_missing_optional_family_names_its_extra(
    tracking: TrackingClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.training import families

    real = families._import_error
    monkeypatch.setattr(
        families,
        "_import_error",
        lambda module: (
            "ModuleNotFoundError: No module named 'torch'" if module == "torch" else real(module)
        ),
    )
    spec = {**FAST, "families": ["linear", "torch_mlp"]}
    with pytest.raises(MissingDependencyError, match=r"pip install 'modelyard\[torch\]'"):
        train(churn_frame(200), "churned", spec, tracking=tracking, settings=settings)
    assert "train-dataframe" not in [e.name for e in tracking.list_experiments()]


@pytest.mark.slow
def test_two_local_worker_processes_share_the_study(
    tracking: TrackingClient, settings: Settings
) -> None:
    spec = {**FAST, "tuning": {"trials": 6, "n_jobs": 2}, "ensembles": {"average": False}}
    result = train(churn_frame(400), "churned", spec, tracking=tracking, settings=settings)
    trials = [
        r for r in tracking.search_runs("train-dataframe").runs if "modelyard.trial" in r.data.tags
    ]
    assert 6 <= len(trials) <= 7  # each worker checks the budget before its next trial
    assert len({r.data.tags["modelyard.trial"] for r in trials}) == len(trials)
    assert result.best.name in {"linear", "lightgbm"}


@pytest.mark.slow
def test_the_ray_executor_on_a_local_instance(tracking: TrackingClient, settings: Settings) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        spec = {
            **FAST,
            "tuning": {"trials": 4, "n_jobs": 2, "executor": "ray"},
            "ensembles": {"average": False},
        }
        result = train(churn_frame(400), "churned", spec, tracking=tracking, settings=settings)
    finally:
        ray.shutdown()
    trials = [
        r for r in tracking.search_runs("train-dataframe").runs if "modelyard.trial" in r.data.tags
    ]
    assert len(trials) >= 4
    assert result.holdout["roc_auc"] > 0.7


@pytest.mark.postgres
def test_the_study_lives_in_postgresql_beside_the_metadata(
    pg_database: object, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, inspect

    url = pg_database()  # type: ignore[operator]
    settings = load_settings(home=tmp_path, db_url=url, env={}, cwd=tmp_path)
    client = TrackingClient.from_settings(settings)
    try:
        result = train(
            churn_frame(300),
            "churned",
            {**FAST, "tuning": {"trials": 2}},
            tracking=client,
            settings=settings,
        )
    finally:
        client.close()
    engine = create_engine(url)
    try:
        names = inspect(engine).get_table_names(schema="optuna")
        public = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert "studies" in names
    assert "trials" in names
    assert "studies" not in public  # modelyard's alembic_version is not Optuna's
    assert result.run_id


def test_stacking_is_scored_on_the_same_folds(tracking: TrackingClient, settings: Settings) -> None:
    spec = {**FAST, "ensembles": {"average": False, "stacking": True, "top_k": 2}}
    result = train(churn_frame(400), "churned", spec, tracking=tracking, settings=settings)
    stack = next(r for r in result.leaderboard if r["candidate"].startswith("stacking("))
    assert 0.5 < stack["roc_auc"] <= 1.0
    assert stack["roc_auc_std"] >= 0


def test_a_time_budget_stops_the_search(tracking: TrackingClient, settings: Settings) -> None:
    spec = {
        **FAST,
        "tuning": {"trials": 10_000, "time_budget": "3s"},
        "ensembles": {"average": False},
    }
    started = time.monotonic()
    train(churn_frame(400), "churned", spec, tracking=tracking, settings=settings)
    assert time.monotonic() - started < 60
    trials = [
        r for r in tracking.search_runs("train-dataframe").runs if "modelyard.trial" in r.data.tags
    ]
    assert 2 <= len(trials) < 200
