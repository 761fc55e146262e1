"""The entry point: evaluate a fitted model on its holdout rows.

:func:`evaluate` checks its inputs, predicts once, and assembles an
:class:`~modelyard.evaluation.report.Evaluation`: the metric suite with
bootstrap intervals, curves or residuals, slices, fairness, explanations and
the train/test checks, plus plain-language warnings for what needs a look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelyard.evaluation import classification, regression
from modelyard.evaluation.bootstrap import bootstrap_intervals
from modelyard.evaluation.checks import duplicates, shift
from modelyard.evaluation.explain import importance, partial_dependence
from modelyard.evaluation.fairness import fairness
from modelyard.evaluation.inputs import Checked, check_classes, check_inputs
from modelyard.evaluation.leakage import leakage
from modelyard.evaluation.report import Evaluation
from modelyard.evaluation.scoring import Scored, predict, score
from modelyard.evaluation.shapley import shap_summary
from modelyard.evaluation.slices import slice_metrics

__all__ = ["evaluate"]

OnProgress = Callable[[str], None]
_FEW_ROWS = 30
_NO_TRAIN = (
    "no training rows given: pass X_train and y_train to check leakage, duplicates and shift"
)
_NO_Y_TRAIN = "no y_train given: pass it to check the features for target leakage"


def evaluate(
    model: Any,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    task: str,
    labels: list[Any] | None = None,
    X_train: pd.DataFrame | None = None,
    y_train: np.ndarray | None = None,
    sensitive: str | None = None,
    slices: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    positive: int = 1,
    seed: int = 0,
    explain: bool = True,
    on_progress: OnProgress | None = None,
) -> Evaluation:
    """Evaluate ``model`` on the holdout ``X_test`` / ``y_test``.

    Args:
        model: A fitted model taking the raw frame (a modelyard pipeline, or an
            ensemble of them); classifiers need ``predict_proba``.
        X_test: Holdout features (raw columns; extra columns such as a sensitive
            attribute the model ignores are fine).
        y_test: Holdout target: class codes ``0..k-1`` for classification (as training
            encodes them), numbers for a regression.
        task: ``binary``, ``multiclass`` or ``regression``.
        labels: The original class of each code (``TrainResult.labels``).
        X_train: Training features; enables the duplicate and shift checks.
        y_train: Training target; with ``X_train`` enables the leakage check.
        sensitive: A column of ``X_test`` to measure fairness across.
        slices: Columns of ``X_test`` to report metrics per value (or quartile) of.
        metrics: Metrics to report, the first being the primary one (per-group in
            fairness, the importance score); default: every metric of the task.
        positive: The class code treated as positive for curves, calibration, fairness
            and partial dependence.
        seed: Seeds every sample and resample, so results repeat.
        explain: Compute permutation importance, partial dependence and SHAP values.
        on_progress: Called with the name of each stage as it starts.

    Returns:
        The evaluation; ``to_dict()`` gives its stored, JSON-able form.

    Raises:
        ValidationError: Bad input, with what is valid (the columns, the metrics, ...).

    Example:
        >>> ev = evaluate(result.model, X_hold, y_hold, task="binary", sensitive="sex")
        >>> ev.metrics["roc_auc"]
        {'value': 0.91, 'ci_low': 0.89, 'ci_high': 0.93}
    """
    say = on_progress or _quiet
    checked = check_inputs(
        X_test,
        y_test,
        task=task,
        X_train=X_train,
        y_train=y_train,
        sensitive=sensitive,
        slices=slices,
        metrics=metrics,
    )
    say("predicting")
    scored = predict(model, X_test, checked.y_test, task, positive)
    classes = 0 if scored.proba is None else scored.proba.shape[1]
    names = check_classes(task, classes, checked.y_test, labels, positive)
    ev = Evaluation(task=task, rows=len(X_test), labels=names, metrics={})
    _performance(ev, scored, checked.metrics, names, seed, say)
    _groups(ev, X_test, scored, checked, say)
    if explain:
        _explanations(ev, model, X_test, checked, task, positive, seed, say)
    else:
        ev.shap = {"unavailable": "explanations were not asked for (explain=False)"}
    ev.checks = _checks(X_test, X_train, checked.y_train, task, seed, say)
    ev.warnings = _warnings(ev, scored)
    return Evaluation.from_dict(ev.to_dict())  # plain JSON values throughout


def _quiet(stage: str) -> None:
    """The default progress callback: says nothing."""


def _performance(
    ev: Evaluation,
    scored: Scored,
    names: list[str],
    labels: list[str] | None,
    seed: int,
    say: OnProgress,
) -> None:
    say("metrics")
    values = score(names, scored)
    say("bootstrap")
    ev.metrics, ev.bootstrap = bootstrap_intervals(names, scored, values, seed)
    say("curves")
    if labels is None:
        ev.residuals = regression.residuals(scored, seed)
        return
    ev.confusion_matrix = classification.confusion(scored, labels)
    ev.roc = classification.roc(scored, labels)
    ev.pr = classification.pr(scored)
    ev.calibration = classification.calibration(scored)


def _groups(
    ev: Evaluation, X_test: pd.DataFrame, scored: Scored, checked: Checked, say: OnProgress
) -> None:
    if checked.slices:
        say("slices")
        ev.slices = slice_metrics(X_test, checked.slices, scored, checked.metrics)
    if checked.sensitive is not None:
        say("fairness")
        ev.fairness = fairness(X_test[checked.sensitive], scored, checked.metrics[0])


def _explanations(
    ev: Evaluation,
    model: Any,
    X_test: pd.DataFrame,
    checked: Checked,
    task: str,
    positive: int,
    seed: int,
    say: OnProgress,
) -> None:
    say("importance")
    ev.importance, ev.importance_rows = importance(
        model,
        X_test,
        checked.y_test,
        task=task,
        metric=checked.metrics[0],
        positive=positive,
        seed=seed,
    )
    say("partial dependence")
    ranked = [item["feature"] for item in ev.importance if (item["mean"] or 0) > 0]
    ev.partial_dependence = partial_dependence(
        model, X_test, ranked, task=task, positive=positive, seed=seed
    )
    say("shap")
    ev.shap = shap_summary(model, X_test, task=task, positive=positive, seed=seed)


def _checks(
    X_test: pd.DataFrame,
    X_train: pd.DataFrame | None,
    y_train: np.ndarray | None,
    task: str,
    seed: int,
    say: OnProgress,
) -> dict[str, Any]:
    if X_train is None:
        return {"leakage": [], "duplicates": None, "shift": [], "note": _NO_TRAIN}
    checks: dict[str, Any] = {"leakage": []}
    if y_train is not None:
        say("leakage")
        checks["leakage"] = leakage(X_train[list(X_test.columns)], y_train, task=task, seed=seed)
    else:
        checks["note"] = _NO_Y_TRAIN
    say("duplicates")
    checks["duplicates"] = duplicates(X_test, X_train)
    say("shift")
    checks["shift"] = shift(X_train, X_test)
    return checks


def _warnings(ev: Evaluation, scored: Scored) -> list[str]:
    found = []
    if ev.rows < _FEW_ROWS:
        found.append(f"only {ev.rows} holdout rows: the metrics and their intervals are rough")
    if scored.task != "regression" and len(np.unique(scored.y)) < 2:
        found.append("the holdout holds a single class: ROC AUC and the curves are undefined")
    for item in ev.checks.get("leakage", []):
        if item["flagged"]:
            found.append(
                f"feature {item['feature']!r} alone predicts the target "
                f"({item['metric']} {item['score']:.3f}): possible leakage"
            )
    shared = ev.checks.get("duplicates")
    if shared and shared["shared_rows"]:
        found.append(
            f"{shared['shared_rows']} of {shared['test_rows']} holdout rows "
            f"({shared['fraction']:.1%}) also appear in the training rows: the holdout "
            "scores may be optimistic"
        )
    for item in ev.checks.get("shift", []):
        if item["drifted"]:
            found.append(
                f"feature {item['feature']!r} is distributed differently in training and "
                f"holdout ({item['test']} effect {item['effect']:.2f}, p={item['p_value']:.2g})"
            )
    return found
