"""The plain loop of ``benchmarks/training.py``: Optuna + a scikit-learn Pipeline, by hand.

What someone would write without modelyard, with the same pieces so only the
platform's overhead differs: the same training rows (``prepare``), the same
preprocessing (``build_preprocessor``), the same estimator (``Family.build`` with
the ``n_jobs`` modelyard gives one worker's models), the same search space drawn
with ``space.suggest`` under the same parameter names, the same first trial (the
family's defaults, which ours enqueues), the same folds and ``TPESampler(seed=0)``.
So both sides fit the same candidates, and with one worker their best CV scores
must agree. The study is in memory; the score is ``cross_val_score(scoring="roc_auc")``;
the best configuration is refitted on the training rows at the end. Nothing is
tracked, stored or serialized.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from benchmarks._training_data import FOLDS, METRIC, SEED, TARGET, bench_spec
from modelyard.features import FeatureSpec, build_preprocessor
from modelyard.training.families import get_family
from modelyard.training.prepare import prepare
from modelyard.training.search import threads_per_worker
from modelyard.training.space import Param, sample_defaults, suggest, to_trial_params
from modelyard.training.spec import TrainSpec


def _pipeline(X: pd.DataFrame, family: str, params: dict[str, Any], task: str) -> Pipeline:
    preprocessor = build_preprocessor(FeatureSpec.from_dict({}), X)
    model = get_family(family).build(params, task, SEED, threads_per_worker(1, len(X)))
    return Pipeline([("features", preprocessor), ("model", model)])


def _suggest(trial: optuna.Trial, family: str, space: dict[str, Param]) -> dict[str, Any]:
    # The names ours records ("family", then "<family>.<param>"), so that TPE, seeded
    # alike, draws the same values on both sides.
    trial.suggest_categorical("family", [family])
    return {name: suggest(trial, f"{family}.{name}", p) for name, p in space.items()}


def run_plain(frame: pd.DataFrame, family: str, trials: int) -> dict[str, Any]:
    """Run the plain search and refit; return timings and the best CV score.

    The clock covers ``prepare`` (ours runs it inside ``train``), the study, every
    trial and the refit.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    started_at, started = datetime.now(), time.perf_counter()
    spec = TrainSpec.from_dict(bench_spec(family, trials, 1))
    prepared = prepare(frame, TARGET, spec)
    X, y, task = prepared.X_train, prepared.y_train, prepared.task
    space = get_family(family).space_for(task)
    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(X, y))

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, family, space)
        scores = cross_val_score(_pipeline(X, family, params, task), X, y, cv=folds, scoring=METRIC)
        trial.set_user_attr("params", params)
        return float(np.mean(scores))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED))
    defaults = to_trial_params(space, sample_defaults(space), prefix=f"{family}.")
    study.enqueue_trial({"family": family, **defaults})
    study.optimize(objective, n_trials=trials)
    model = _pipeline(X, family, study.best_trial.user_attrs["params"], task).fit(X, y)
    seconds, ended_at = time.perf_counter() - started, datetime.now()
    return {
        "seconds": seconds,
        "started_at": started_at,
        "ended_at": ended_at,
        "study": study,
        "best_cv": float(study.best_value),
        "train_rows": len(y),
        "model_steps": [name for name, _ in model.steps],
    }
