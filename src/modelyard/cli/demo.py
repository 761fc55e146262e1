"""``modelyard demo``: the main job on the embedded default store.

The data step generates a synthetic customer-churn table and ingests it with PII
masking and validation rules, prints its profile and records a stratified split
(``_demo_data``). The training step then selects a model for ``churned`` on that
dataset version: every default family is cross-validated and tuned with Optuna,
averaged into an ensemble, tracked run by run, and the winner is scored once on
the split's test part. Later issues grow this into the full closed loop
(register -> serve -> monitor -> retrain).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.cli._demo_data import ingest_demo_data
from modelyard.cli.app import client, console, settings
from modelyard.cli.train import show_result, with_progress
from modelyard.data import DataClient
from modelyard.training import train

__all__ = ["EXPERIMENT", "demo"]

EXPERIMENT = "demo-churn"


def demo(
    ctx: typer.Context,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    rows: Annotated[int, typer.Option(min=1000, help="Rows of synthetic churn data.")] = 5000,
    trials: Annotated[int, typer.Option(min=0, help="Tuning trials.")] = 8,
) -> None:
    """Ingest synthetic churn data (masked, validated, profiled), then train, tune and
    track candidate models on it and print the leaderboard."""
    dataset = ingest_demo_data(ctx, rows, seed)
    spec: dict[str, Any] = {
        "cv": {"folds": folds},
        "holdout": {"split": "default", "part": "test"},
        "tuning": {"trials": trials},
        "ensembles": {"average": True, "top_k": 3},
        "selection": {"prefer_simpler_within": 0.002},
        "seed": seed,
    }
    conf = settings(ctx)
    data = DataClient.from_settings(conf)
    ctx.call_on_close(data.close)
    tracking = client(ctx)
    console.print(
        f"[bold]training[/] on {dataset.ref}: target churned, {folds}-fold CV, {trials} trials"
    )
    result = with_progress(
        lambda on_progress: train(
            dataset.ref,
            "churned",
            spec,
            experiment=EXPERIMENT,
            tracking=tracking,
            data_client=data,
            settings=conf,
            on_progress=on_progress,
        )
    )
    show_result(result)
