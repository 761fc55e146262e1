"""The search: one Optuna study over (family, hyper-parameters), trials tracked as child runs.

The study lives in shared storage (see :mod:`modelyard.training.storage`), so
any number of worker processes, local or on Ray, pull trials from it. Each
family's default configuration is enqueued first, so every family is scored at
least once before TPE explores. A trial that raises is recorded as a FAILED run
with its error and the search goes on; a pruned trial ends as KILLED.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from modelyard.config import Settings
from modelyard.features import FeatureSpec, build_preprocessor
from modelyard.store import Metric, now_ms
from modelyard.tracking import TrackingClient
from modelyard.training.cv import CVResult, Fold, cross_validate
from modelyard.training.families import get_family
from modelyard.training.space import Param, sample_defaults, suggest, to_trial_params

_SMALL_ROWS = 20_000

__all__ = [
    "SearchJob",
    "completed",
    "enqueue_defaults",
    "make_pipeline",
    "make_pruner",
    "make_sampler",
    "progress",
    "run_trials",
    "threads_per_worker",
]


@dataclass
class SearchJob:
    """Everything a worker needs to run trials (picklable, sent to each worker)."""

    settings: Settings
    experiment: str
    parent_run_id: str
    storage_url: str
    storage_options: dict[str, Any]
    study_name: str
    task: str
    metrics: list[str]
    X: pd.DataFrame
    y: np.ndarray
    labels: list[object] | None
    folds: list[Fold]
    spaces: dict[str, dict[str, Param]]
    features: dict[str, Any]
    excluded: list[str]
    seed: int
    total_trials: int
    deadline: float | None
    pruning: bool = True
    n_jobs_per_model: int = 1
    n_workers: int = 1

    @property
    def label_codes(self) -> np.ndarray | None:
        """The encoded classes (0..k-1) metrics score against; None for regression."""
        return None if self.labels is None else np.arange(len(self.labels))


def make_pipeline(
    job: SearchJob, family: str, params: Mapping[str, Any], *, n_jobs: int | None = None
) -> Pipeline:
    """The unfitted pipeline of one candidate: the preprocessing, then the model."""
    spec = FeatureSpec.from_dict(job.features)
    preprocessor = build_preprocessor(spec, job.X, exclude=job.excluded)
    model = get_family(family).build(
        dict(params), job.task, job.seed, n_jobs or job.n_jobs_per_model
    )
    return Pipeline([("features", preprocessor), ("model", model)])


def make_sampler(seed: int, worker: int = 0) -> optuna.samplers.BaseSampler:
    """TPE seeded per worker: one worker is reproducible, several do not repeat each other."""
    return optuna.samplers.TPESampler(seed=seed + 7919 * worker)


def make_pruner(n_families: int) -> optuna.pruners.BasePruner:
    """Median pruning on the running mean over folds, once every family has a score."""
    return optuna.pruners.MedianPruner(n_startup_trials=n_families + 2)


def run_trials(job: SearchJob, worker: int = 0) -> int:
    """Pull trials from the shared study until the budget is spent; returns trials run here."""
    from modelyard.training.storage import close_storage, open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are recorded as runs
    storage = open_storage(job.storage_url, job.storage_options)
    study = optuna.load_study(
        study_name=job.study_name,
        storage=storage,
        sampler=make_sampler(job.seed, worker),
        pruner=make_pruner(len(job.spaces)),
    )
    tracking = TrackingClient.from_settings(job.settings)
    ran = 0
    # OpenMP pools (HistGradientBoosting, LightGBM, XGBoost) size themselves to the
    # machine; with several workers that oversubscribes the cores many times over.
    limits = job.n_jobs_per_model if job.n_workers > 1 else None  # alone: library defaults
    with threadpool_limits(limits=limits):
        try:
            while _budget_left(study, job):
                study.optimize(
                    lambda trial: _objective(trial, job, tracking),
                    n_trials=1,
                    catch=(Exception,),
                    gc_after_trial=False,
                )
                ran += 1
        finally:
            tracking.close()
            close_storage(storage)
    return ran


def _budget_left(study: optuna.Study, job: SearchJob) -> bool:
    if job.deadline is not None and time.time() >= job.deadline:
        return False
    waiting = optuna.trial.TrialState.WAITING
    started = [t for t in study.get_trials(deepcopy=False) if t.state != waiting]
    return len(started) < job.total_trials


def _objective(trial: optuna.Trial, job: SearchJob, tracking: TrackingClient) -> float:
    names = list(job.spaces)
    family = trial.suggest_categorical("family", names)
    params = {
        name: suggest(trial, f"{family}.{name}", param)
        for name, param in job.spaces[str(family)].items()
    }
    tags = {"modelyard.trial": str(trial.number), "modelyard.family": family}
    with tracking.start_run(
        job.experiment,
        run_name=f"trial-{trial.number}-{family}",
        parent=job.parent_run_id,
        tags=tags,
    ) as run:
        run.log_params({"family": family, **params})
        result = _score(trial, job, str(family), params, run)
        summary = result.summary(job.metrics)
        stamp = now_ms()
        points = [
            Metric(f"fold_{k}", v, i, stamp)
            for i, scores in enumerate(result.fold_scores)
            for k, v in scores.items()
            if not np.isnan(v)
        ]
        points += [Metric(k, v, 0, stamp) for k, v in summary.items() if not np.isnan(v)]
        run.log_batch(points)  # one transaction for every fold and summary metric
        trial.set_user_attr("result", {"run_id": run.run_id, "params": params, "summary": summary})
        return result.mean(job.metrics[0])


def _score(
    trial: optuna.Trial, job: SearchJob, family: str, params: Mapping[str, Any], run: Any
) -> CVResult:
    pipeline = make_pipeline(job, family, params)

    def on_fold(index: int, running: float) -> None:
        if not job.pruning or np.isnan(running):
            return
        trial.report(running, index)
        if trial.should_prune():
            run.set_tag("modelyard.pruned", f"after fold {index}")
            run.end("KILLED")
            raise optuna.TrialPruned(f"pruned after fold {index}")

    return cross_validate(
        pipeline,
        job.X,
        job.y,
        job.folds,
        task=job.task,
        metrics=job.metrics,
        labels=job.label_codes,
        on_fold=on_fold,
    )


def enqueue_defaults(study: optuna.Study, spaces: Mapping[str, Mapping[str, Param]]) -> None:
    """Queue each family's default configuration, so every family is scored once."""
    for family, space in spaces.items():
        params = to_trial_params(space, sample_defaults(space), prefix=f"{family}.")
        study.enqueue_trial({"family": family, **params}, skip_if_exists=True)


def threads_per_worker(n_workers: int, n_rows: int) -> int:
    """CPU threads each worker's models may use, so workers do not oversubscribe cores.

    Small data gets one thread: there the OpenMP pools of the boosting libraries
    spend more time waiting for each other than computing, and on a busy machine
    a 4-second fit was measured to take over a minute with two threads.
    """
    cores = os.cpu_count() or 1
    if n_workers == 1:
        return cores  # alone on the machine: as a hand-written loop would run
    if n_rows < _SMALL_ROWS:
        return 1
    return max(1, cores // n_workers)


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that finished with a score."""
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]


def progress(study: optuna.Study) -> tuple[int, float | None]:
    """How many trials are done (any final state) and the best score so far."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.is_finished()]
    scores = [
        t.value for t in done if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]
    if not scores:
        return len(done), None
    best = max(scores) if study.direction == optuna.study.StudyDirection.MAXIMIZE else min(scores)
    return len(done), float(best)
