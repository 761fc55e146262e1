"""Ours in ``benchmarks/training.py``: ``modelyard.training.train`` on a fresh home.

The clock covers the one ``train()`` call: ``prepare`` (checks and the 20% holdout
split), the tracked parent run, the Optuna study on disk (SQLite beside the
metadata database), every trial as a child run with its params, per-fold and
summary metrics, the extra metrics and the model size and latency probes, the
final refit, the holdout scores, the leaderboard, the signature and the model
artifact (skops). Creating the tracking client (and migrating the empty database)
is timed apart as ``setup``. Afterwards, untimed, the study is read back from disk
for the per-trial durations.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from benchmarks._training_data import TARGET, bench_spec
from modelyard.config import load_settings
from modelyard.tracking import TrackingClient
from modelyard.training import train
from modelyard.training.storage import close_storage, open_storage, study_storage


def run_ours(
    frame: pd.DataFrame, family: str, trials: int, n_jobs: int, home: Path
) -> dict[str, Any]:
    """Train with modelyard on a fresh home in ``home``; timings, trials and best CV."""
    started = time.perf_counter()
    settings = load_settings(home=home, env={}, cwd=home)
    tracking = TrackingClient.from_settings(settings)
    setup = time.perf_counter() - started
    try:
        started_at, started = datetime.now(), time.perf_counter()
        result = train(
            frame, TARGET, bench_spec(family, trials, n_jobs), tracking=tracking, settings=settings
        )
        seconds, ended_at = time.perf_counter() - started, datetime.now()
    finally:
        tracking.close()
    chosen = next(row for row in result.leaderboard if row["chosen"])
    return {
        "seconds": seconds,
        "started_at": started_at,
        "ended_at": ended_at,
        "setup_seconds": setup,
        "study_trials": _study_trials(settings.db_url, f"modelyard-{result.run_id}"),
        "best_cv": float(chosen[result.metric]),
        "holdout": {k: round(v, 6) for k, v in result.holdout.items()},
        "home_bytes": sum(p.stat().st_size for p in home.rglob("*") if p.is_file()),
    }


def _study_trials(db_url: str, study_name: str) -> list[optuna.trial.FrozenTrial]:
    url, options = study_storage(db_url)
    storage = open_storage(url, options)
    try:
        return optuna.load_study(study_name=study_name, storage=storage).get_trials()
    finally:
        close_storage(storage)
