"""``modelyard demo``: the main job on the embedded default store.

First the data step: a synthetic customer-churn table is generated, ingested
with PII masking and validation rules, profiled and split (``_demo_data``).
Then, for now: train two scikit-learn candidates on the bundled breast-cancer data
with stratified 5-fold cross-validation, track everything (params, per-fold
metrics, the fitted model as a skops file, a ROC plot, the CV table), pick the
best by mean ROC AUC, and print the run table. Later issues grow this into the
full closed loop (ingest -> validate -> train -> register -> serve -> monitor).
"""

from __future__ import annotations

import io
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from modelyard.cli._demo_data import ingest_demo_data
from modelyard.cli._render import runs_table
from modelyard.cli.app import client, console
from modelyard.tracking import ActiveRun

__all__ = ["demo"]

EXPERIMENT = "demo-breast-cancer"


def _candidates(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic_regression": make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)
        ),
        "random_forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
    }


def demo(
    ctx: typer.Context,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    rows: Annotated[int, typer.Option(min=1000, help="Rows of synthetic churn data.")] = 5000,
) -> None:
    """Ingest synthetic churn data (masked, validated, profiled), then train and track
    two candidate models on a bundled dataset and show the runs."""
    ingest_demo_data(ctx, rows, seed)
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, train_test_split

    data = load_breast_cancer(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, stratify=data.target, random_state=seed
    )
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x_train, y_train))
    tracking = client(ctx)
    candidates = _candidates(seed)
    scores: dict[str, float] = {}
    with (
        tracking.start_run(EXPERIMENT, run_name="model-selection") as parent,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        parent.log_params(
            {
                "dataset": "sklearn.breast_cancer",
                "folds": folds,
                "seed": seed,
                "train_rows": len(x_train),
                "test_rows": len(x_test),
            }
        )
        task = progress.add_task("cross-validating", total=len(candidates) * folds)
        for name, model in candidates.items():
            with tracking.start_run(EXPERIMENT, run_name=name, parent=parent) as child:
                scores[name] = _cross_validate(
                    child, model, x_train, y_train, splits, progress, task
                )
                _fit_and_log(child, model, x_train, y_train, x_test, y_test)
        best = max(scores, key=scores.__getitem__)
        parent.log_metrics({"best_cv_auc": scores[best]})
        parent.set_tags({"best_model": best})
        parent.log_dict({"cv_auc": scores, "best": best}, "leaderboard.json")
    page = tracking.search_runs(EXPERIMENT, order_by=["start_time DESC"], max_results=3)
    shown = ["cv_auc", "cv_auc_std", "holdout_auc"]
    console.print(
        runs_table(list(reversed(page.runs)), title=f"Runs in {EXPERIMENT!r}", metrics=shown)
    )
    console.print(
        f"best: [bold]{best}[/] (mean CV ROC AUC {scores[best]:.4f}); "
        f"`modelyard runs show {parent.run_id}` for details"
    )
    tracking.close()


def _cross_validate(
    run: ActiveRun, model: Any, x: Any, y: Any, splits: list[Any], progress: Progress, task: Any
) -> float:
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    run.log_params({"model": type(model).__name__, **_flat_params(model)})
    aucs = []
    for fold, (train_idx, valid_idx) in enumerate(splits):
        started = time.perf_counter()
        fitted = clone(model).fit(x.iloc[train_idx], y.iloc[train_idx])
        proba = fitted.predict_proba(x.iloc[valid_idx])[:, 1]
        truth = y.iloc[valid_idx]
        auc = float(roc_auc_score(truth, proba))
        aucs.append(auc)
        run.log_metrics(
            {
                "fold_auc": auc,
                "fold_accuracy": float(accuracy_score(truth, proba >= 0.5)),
                "fold_f1": float(f1_score(truth, proba >= 0.5)),
                "fold_fit_s": time.perf_counter() - started,
            },
            step=fold,
        )
        progress.advance(task)
    mean, std = float(np.mean(aucs)), float(np.std(aucs))
    run.log_metrics({"cv_auc": mean, "cv_auc_std": std})
    return mean


def _fit_and_log(
    run: ActiveRun, model: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import skops.io as sio
    from sklearn.metrics import RocCurveDisplay, roc_auc_score

    model.fit(x_train, y_train)
    proba = model.predict_proba(x_test)[:, 1]
    run.log_metrics({"holdout_auc": float(roc_auc_score(y_test, proba))})
    buffer = io.BytesIO()
    sio.dump(model, buffer)
    run.log_bytes(buffer.getvalue(), "model/model.skops")
    fig, ax = plt.subplots(figsize=(5, 4))
    RocCurveDisplay.from_predictions(y_test, proba, ax=ax, name=run.name)
    ax.set_title(f"ROC on the holdout split: {run.name}")
    run.log_figure(fig, "plots/roc.png")
    plt.close(fig)


def _flat_params(model: Any) -> dict[str, Any]:
    params = model.get_params(deep=True)
    return {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool, type(None)))}
