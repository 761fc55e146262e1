"""A training job end to end: check, search, ensemble, select, refit, score, track.

One parent run holds the job: its spec, the leaderboard, the chosen model with
its fitted preprocessing (skops), the input signature and the holdout scores.
Every trial and every candidate (ensembles included) is a child run.
"""

from __future__ import annotations

import importlib
import io
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from modelyard.config import Settings
from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.features import FeatureSpec, build_preprocessor
from modelyard.tracking import ActiveRun, TrackingClient
from modelyard.training.cv import cross_validate, make_folds, predict_scores
from modelyard.training.ensembles import average_of, stack_of
from modelyard.training.executors import make_executor
from modelyard.training.families import (
    default_families,
    get_family,
    is_available,
    require_available,
)
from modelyard.training.linear_criteria import information_criteria
from modelyard.training.metrics import default_metric, get_metric, reported_metrics, score_all
from modelyard.training.prepare import Prepared
from modelyard.training.search import (
    SearchJob,
    completed,
    enqueue_defaults,
    make_pipeline,
    make_pruner,
    make_sampler,
    progress,
    threads_per_worker,
)
from modelyard.training.selection import Candidate, leaderboard_rows, select
from modelyard.training.signature import signature_of
from modelyard.training.space import parse_space
from modelyard.training.spec import TrainSpec
from modelyard.training.storage import close_storage, open_storage, study_storage

__all__ = [
    "SAMPLE_TARGET",
    "Progress",
    "TrainResult",
    "environment",
    "git_commit",
    "holdout_sample",
    "run_job",
]

_ENSEMBLE_COMPLEXITY = 100
_SAMPLE_ROWS = 1000
SAMPLE_TARGET = "__target__"
_LIBRARIES = (
    "modelyard",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "xgboost-cpu",
    "torch",
    "skops",
    "onnx",
    "onnxruntime",
    "skl2onnx",
)
_POLL_S = 0.5


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    done: int
    total: int
    best: float | None
    elapsed: float


@dataclass
class TrainResult:
    """What a training job produced."""

    run_id: str
    task: str
    metric: str
    leaderboard: list[dict[str, Any]]
    best: Candidate
    reason: str
    model: Any
    holdout: dict[str, float]
    signature: dict[str, Any]
    labels: list[object] | None

    def leaderboard_frame(self) -> pd.DataFrame:
        """The leaderboard as a DataFrame (one row per candidate, best first)."""
        return pd.DataFrame(self.leaderboard)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predictions of the chosen model, in the target's own labels."""
        pred = np.asarray(self.model.predict(X))
        if self.labels is None:
            return pred
        return np.asarray(self.labels, dtype=object)[pred.astype(np.int64)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (columns in the order of ``labels``)."""
        return np.asarray(self.model.predict_proba(X))


def run_job(
    prepared: Prepared,
    spec: TrainSpec,
    *,
    settings: Settings,
    tracking: TrackingClient,
    experiment: str,
    data_ref: str,
    on_progress: Callable[[Progress], None] | None = None,
) -> TrainResult:
    """Search, build ensembles, choose, refit on all training rows, score the holdout."""
    # Failed trials are recorded as FAILED runs with their error; Optuna's own
    # per-trial warnings (with tracebacks) would only repeat that on the console.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # skops imports every scikit-learn module (~1.5 s); load it while the trials run.
    threading.Thread(target=importlib.import_module, args=("skops.io",), daemon=True).start()
    metric = get_metric(spec.metric or default_metric(prepared.task), prepared.task)
    metrics = reported_metrics(prepared.task, metric.name, spec.metrics)
    spaces = _spaces(spec, prepared.task)
    feature_spec = FeatureSpec.from_dict(spec.features)
    build_preprocessor(feature_spec, prepared.X_train, exclude=prepared.excluded)  # fail early
    folds = make_folds(spec.cv, prepared.task, prepared.y_train, spec.seed)
    total = max(spec.tuning.trials, len(spaces))
    with tracking.start_run(
        experiment, run_name="train", tags=_job_tags(data_ref, prepared)
    ) as parent:
        _log_job(parent, prepared, spec, metric.name, spaces, data_ref, total)
        storage_url, storage_options = study_storage(settings.db_url)
        storage = open_storage(storage_url, storage_options)
        study = optuna.create_study(
            study_name=f"modelyard-{parent.run_id}",
            storage=storage,
            direction="maximize" if metric.greater_is_better else "minimize",
            sampler=make_sampler(spec.seed),
            pruner=make_pruner(len(spaces)),
        )
        enqueue_defaults(study, spaces)
        job = SearchJob(
            settings=settings,
            experiment=experiment,
            parent_run_id=parent.run_id,
            storage_url=storage_url,
            storage_options=storage_options,
            study_name=study.study_name,
            task=prepared.task,
            metrics=metrics,
            X=prepared.X_train,
            y=prepared.y_train,
            labels=prepared.labels,
            folds=folds,
            spaces=spaces,
            features=spec.features,
            excluded=prepared.excluded,
            seed=spec.seed,
            total_trials=total,
            deadline=time.time() + spec.tuning.time_budget if spec.tuning.time_budget else None,
            pruning=spec.tuning.pruning,
            n_jobs_per_model=threads_per_worker(spec.tuning.n_jobs, len(prepared.y_train)),
            n_workers=spec.tuning.n_jobs,
        )
        try:
            _search(job, study, spec, on_progress)
        finally:
            close_storage(storage)
        # Read the finished trials afresh: this process's study object caches trials
        # it saw while they were running in other workers.
        results = open_storage(storage_url, storage_options)
        try:
            candidates = _candidates(
                optuna.load_study(study_name=study.study_name, storage=results), metric.name
            )
        finally:
            close_storage(results)
        candidates += _ensembles(job, candidates, spec, metric.greater_is_better, tracking)
        winner, reason = select(candidates, metric, spec.selection)
        result = _finish(job, prepared, candidates, winner, reason, metric.name, parent)
    return result


def _spaces(spec: TrainSpec, task: str) -> dict[str, dict[str, Any]]:
    names = list(spec.families) or [n for n in default_families(task) if is_available(n)]
    spaces = {}
    for name in names:
        family = require_available(name)  # unknown: the valid names; missing: the extra
        if task not in family.tasks:
            raise ValidationError(f"family {name!r} does not support a {task} task")
        spaces[name] = parse_space(spec.families.get(name, {}), family.space_for(task), family=name)
    return spaces


def _job_tags(data_ref: str, prepared: Prepared) -> dict[str, str]:
    tags = {"modelyard.kind": "train", "modelyard.data": data_ref, "modelyard.task": prepared.task}
    commit = git_commit()
    if commit is not None:
        tags["modelyard.git_commit"] = commit
    return tags


def _log_job(
    run: ActiveRun,
    prepared: Prepared,
    spec: TrainSpec,
    metric: str,
    spaces: Mapping[str, Any],
    data_ref: str,
    total: int,
) -> None:
    run.log_params(
        {
            "data": data_ref,
            "target": prepared.target,
            "task": prepared.task,
            "metric": metric,
            "families": ",".join(spaces),
            "cv": f"{spec.cv.kind}:{spec.cv.folds}",
            "trials": total,
            "seed": spec.seed,
            "train_rows": len(prepared.y_train),
            "holdout_rows": len(prepared.y_holdout),
            "excluded_columns": ",".join(prepared.excluded) or "-",
        }
    )
    run.log_dict(spec.to_dict(), "train_spec.yaml")


def _search(
    job: SearchJob,
    study: optuna.Study,
    spec: TrainSpec,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    executor = make_executor(spec.tuning.executor, spec.tuning.ray_address)
    started = time.monotonic()
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(_POLL_S):
            report()

    def report() -> None:
        if on_progress is not None:
            done, best = progress(study)
            on_progress(Progress(done, job.total_trials, best, time.monotonic() - started))

    watcher = threading.Thread(target=watch, name="modelyard-progress", daemon=True)
    if on_progress is not None:
        watcher.start()
    try:
        executor.run(job, spec.tuning.n_jobs)
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        report()


def _candidates(study: optuna.Study, metric: str) -> list[Candidate]:
    best: dict[str, Any] = {}
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    for trial in completed(study):
        family = str(trial.params["family"])
        current = best.get(family)
        if current is None or (
            trial.value > current.value if maximize else trial.value < current.value
        ):
            best[family] = trial
    if not best:
        failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
        hint = (
            f"; first failure: {failed[0].system_attrs.get('fail_reason', '?')}" if failed else ""
        )
        raise ModelyardError(f"no trial finished with a score{hint}")
    return [
        Candidate(
            name=family,
            family=family,
            params=dict(trial.user_attrs["result"]["params"]),
            score=float(trial.value),
            summary=dict(trial.user_attrs["result"]["summary"]),
            run_id=trial.user_attrs["result"]["run_id"],
            complexity=get_family(family).complexity,
        )
        for family, trial in best.items()
    ]


def _ensembles(
    job: SearchJob,
    singles: list[Candidate],
    spec: TrainSpec,
    greater_is_better: bool,
    tracking: TrackingClient,
) -> list[Candidate]:
    ranked = sorted(singles, key=lambda c: c.score, reverse=greater_is_better)
    top = ranked[: spec.ensembles.top_k]
    if len(top) < 2:
        return []
    kinds = [
        k
        for k, on in (("average", spec.ensembles.average), ("stacking", spec.ensembles.stacking))
        if on
    ]
    made = []
    for kind in kinds:
        candidate = Candidate(
            name=f"{kind}({'+'.join(c.family for c in top)})",
            family=kind,
            params={c.family: c.params for c in top},
            score=math.nan,
            summary={},
            run_id=None,
            complexity=_ENSEMBLE_COMPLEXITY,
            members=top,
        )
        with tracking.start_run(
            job.experiment,
            run_name=candidate.name,
            parent=job.parent_run_id,
            tags={"modelyard.ensemble": kind},
        ) as run:
            run.log_params({"family": kind, "members": ",".join(c.family for c in top)})
            result = cross_validate(
                build_estimator(job, candidate),
                job.X,
                job.y,
                job.folds,
                task=job.task,
                metrics=job.metrics,
                labels=job.label_codes,
            )
            candidate.summary = result.summary(job.metrics)
            run.log_metrics({k: v for k, v in candidate.summary.items() if not math.isnan(v)})
        candidate.score = result.mean(job.metrics[0])
        candidate.run_id = run.run_id
        made.append(candidate)
    return made


def build_estimator(job: SearchJob, candidate: Candidate) -> Any:
    """The unfitted estimator of a candidate (a pipeline, or an ensemble of them)."""
    if not candidate.members:
        return make_pipeline(job, candidate.family, candidate.params)
    members = [(c.family, make_pipeline(job, c.family, c.params)) for c in candidate.members]
    if candidate.family == "average":
        return average_of(members, job.task)
    return stack_of(members, job.task, job.seed)


def _finish(
    job: SearchJob,
    prepared: Prepared,
    candidates: list[Candidate],
    winner: Candidate,
    reason: str,
    metric: str,
    parent: ActiveRun,
) -> TrainResult:
    model = build_estimator(job, winner).fit(prepared.X_train, prepared.y_train)
    for candidate in candidates:  # AIC/BIC where they are defined: linear models
        if not candidate.members and get_family(candidate.family).linear:
            fitted = model
            if candidate is not winner:
                fitted = build_estimator(job, candidate).fit(prepared.X_train, prepared.y_train)
            candidate.extra.update(
                information_criteria(fitted, prepared.X_train, prepared.y_train, job.task)
            )
    pred, proba = predict_scores(model, prepared.X_holdout, job.task)
    holdout = score_all(job.metrics, job.task, prepared.y_holdout, pred, proba, job.label_codes)
    board = leaderboard_rows(candidates, get_metric(metric, job.task), job.metrics, winner)
    signature = signature_of(
        prepared.X_train,
        target=prepared.target,
        task=job.task,
        labels=prepared.labels,
        excluded=prepared.excluded,
    )
    parent.log_metrics({f"holdout_{k}": v for k, v in holdout.items() if not math.isnan(v)})
    parent.log_metrics({f"best_cv_{metric}": winner.score})
    parent.set_tags({"modelyard.best": winner.name, "modelyard.reason": reason})
    parent.log_dict(board, "leaderboard.json")
    parent.log_dict(signature, "model/signature.json")
    parent.log_bytes(_skops_bytes(model), "model/model.skops")
    parent.log_bytes(holdout_sample(prepared), "model/holdout_sample.parquet")
    parent.log_dict(environment(), "model/environment.json")
    return TrainResult(
        run_id=parent.run_id,
        task=job.task,
        metric=metric,
        leaderboard=board,
        best=winner,
        reason=reason,
        model=model,
        holdout=holdout,
        signature=signature,
        labels=prepared.labels,
    )


def holdout_sample(prepared: Prepared, rows: int = _SAMPLE_ROWS) -> bytes:
    """Up to ``rows`` holdout rows (features and encoded target) as Parquet bytes.

    The registry checks ONNX parity and measures latency on them without
    reloading the dataset.
    """
    n = min(rows, len(prepared.X_holdout))
    if n == 0:  # no holdout: the first training rows still exercise the pipeline
        frame = prepared.X_train.iloc[:rows].copy()
        y = prepared.y_train[:rows]
    else:
        frame = prepared.X_holdout.iloc[:n].copy()
        y = prepared.y_holdout[:n]
    frame[SAMPLE_TARGET] = y
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def environment() -> dict[str, Any]:
    """Python and library versions, and the git commit of the working directory."""
    import platform
    from importlib import metadata

    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "libraries": versions, "git_commit": git_commit()}


def git_commit() -> str | None:
    """The commit checked out in the working directory (None outside a git repository)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def _skops_bytes(model: Any) -> bytes:
    import skops.io as sio

    buffer = io.BytesIO()
    sio.dump(model, buffer)
    return buffer.getvalue()
