"""What a tracked run holds for registration: the model, its signature, its lineage.

A training run (``modelyard train``) logs ``model/model.skops``,
``model/signature.json``, ``model/holdout_sample.parquet``,
``model/environment.json``, ``train_spec.yaml`` and ``leaderboard.json``. Runs
logged by hand need at least a model file and a signature.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.store import ArtifactEntry, Run
from modelyard.tracking import TrackingClient

__all__ = ["MODEL_FILES", "RunModel", "read_run_model"]

# Artifact path -> format, in order of preference.
MODEL_FILES = {
    "model/model.skops": "skops",
    "model/model.pkl": "pickle",
    "model/model.joblib": "joblib",
}
_HOLDOUT_PREFIX = "holdout_"


@dataclass(frozen=True)
class RunModel:
    """The model artifact of a run and everything recorded about it."""

    run: Run
    artifact: ArtifactEntry
    format: str
    signature: dict[str, Any]
    task: str
    lineage: dict[str, Any]
    metrics: dict[str, float]
    sample: pd.DataFrame | None
    sample_target: np.ndarray | None


def read_run_model(tracking: TrackingClient, run: Run | str) -> RunModel:
    """Collect the model file, signature, sample and lineage of ``run``.

    Raises:
        NotFoundError: No such run.
        ValidationError: The run has no model file or no signature (the message
            lists what it has and how to produce a registrable run).
    """
    run = tracking.get_run(run) if isinstance(run, str) else run
    run_id = run.info.run_id
    entries = {e.path: e for e in tracking.list_artifacts(run_id)}
    found = [(path, fmt) for path, fmt in MODEL_FILES.items() if path in entries]
    if not found:
        listed = ", ".join(sorted(entries)[:10]) or "none"
        raise ValidationError(
            f"run {run_id} has no model to register (looked for {', '.join(MODEL_FILES)}; "
            f"its artifacts: {listed}). Register the parent run of `modelyard train`, or log "
            "the fitted pipeline as model/model.skops with model/signature.json",
            run_id=run_id,
        )
    path, fmt = found[0]
    if "model/signature.json" not in entries:
        raise ValidationError(
            f"run {run_id} has {path} but no model/signature.json: the registry needs the "
            "input signature to check requests; log it with run.log_dict(signature, "
            "'model/signature.json')",
            run_id=run_id,
        )
    signature = _json(tracking, run_id, "model/signature.json")
    task = str(signature.get("output", {}).get("task") or run.data.params.get("task") or "")
    if task not in ("binary", "multiclass", "regression"):
        raise ValidationError(
            f"run {run_id}: the signature names task {task!r}; expected binary, multiclass "
            "or regression"
        )
    sample, target = _sample(tracking, run_id, entries)
    return RunModel(
        run=run,
        artifact=entries[path],
        format=fmt,
        signature=signature,
        task=task,
        lineage=_lineage(tracking, run, entries),
        metrics=_metrics(run),
        sample=sample,
        sample_target=target,
    )


def _json(tracking: TrackingClient, run_id: str, path: str) -> Any:
    try:
        return json.loads(tracking.read_artifact(run_id, path))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"run {run_id}: {path} is not valid JSON ({exc})") from exc


def _sample(
    tracking: TrackingClient, run_id: str, entries: dict[str, ArtifactEntry]
) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    # Only a column name, but its module is the training job (Optuna, scikit-learn):
    # imported here, so loading and serving models does not import training.
    from modelyard.training import SAMPLE_TARGET

    path = "model/holdout_sample.parquet"
    if path not in entries:
        return None, None
    frame = pd.read_parquet(io.BytesIO(tracking.read_artifact(run_id, path)))
    if SAMPLE_TARGET not in frame.columns:
        return frame, None
    return frame.drop(columns=[SAMPLE_TARGET]), frame[SAMPLE_TARGET].to_numpy()


def _lineage(
    tracking: TrackingClient, run: Run, entries: dict[str, ArtifactEntry]
) -> dict[str, Any]:
    run_id = run.info.run_id
    params, tags = dict(run.data.params), dict(run.data.tags)
    spec = (
        yaml.safe_load(tracking.read_artifact(run_id, "train_spec.yaml"))
        if "train_spec.yaml" in entries
        else None
    )
    env = (
        _json(tracking, run_id, "model/environment.json")
        if "model/environment.json" in entries
        else {}
    )
    chosen: dict[str, Any] = {}
    if "leaderboard.json" in entries:
        board = _json(tracking, run_id, "leaderboard.json")
        chosen = next((row for row in board if row.get("chosen")), {})
    experiment = next(
        (e.name for e in tracking.list_experiments() if e.experiment_id == run.info.experiment_id),
        None,
    )
    holdout = (spec or {}).get("holdout") or {}
    return {
        "run_id": run_id,
        "run_name": run.info.name,
        "experiment": experiment,
        "data": params.get("data") or tags.get("modelyard.data"),
        "target": params.get("target"),
        "split": _split(holdout),
        "train_rows": _int(params.get("train_rows")),
        "holdout_rows": _int(params.get("holdout_rows")),
        "train_spec": spec,
        "params": params,
        "family": chosen.get("family") or tags.get("modelyard.best"),
        "candidate": chosen.get("candidate"),
        "model_params": chosen.get("params"),
        "selection_reason": tags.get("modelyard.reason"),
        "git_commit": tags.get("modelyard.git_commit") or env.get("git_commit"),
        "python": env.get("python"),
        "libraries": env.get("libraries", {}),
        "trained_by": run.info.user_id,
        "trained_at": run.info.start_time,
    }


def _split(holdout: dict[str, Any]) -> dict[str, Any]:
    """A recorded split (name and part) or a seeded random fraction."""
    if holdout.get("split") is not None:
        return {"split": holdout["split"], "part": holdout.get("part", "test")}
    return {"fraction": holdout["fraction"]} if holdout.get("fraction") is not None else {}


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _metrics(run: Run) -> dict[str, float]:
    """Holdout scores (``holdout_roc_auc`` -> ``roc_auc``), else every finite metric."""
    metrics = {k: float(v) for k, v in run.data.metrics.items() if np.isfinite(v)}
    holdout = {
        k.removeprefix(_HOLDOUT_PREFIX): v
        for k, v in metrics.items()
        if k.startswith(_HOLDOUT_PREFIX)
    }
    return holdout or metrics


def require_run(tracking: TrackingClient, run_id: str) -> Run:
    """The run, or a NotFoundError that says where run ids come from."""
    try:
        return tracking.get_run(run_id)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no run {run_id[:64]!r}: find run ids with `modelyard runs list` "
            "(the parent run of `modelyard train` holds the model)",
            run_id=run_id,
        ) from exc
