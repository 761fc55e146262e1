"""``modelyard demo``: the main job on the embedded default store.

The data step generates a synthetic customer-churn table and ingests it with PII
masking and validation rules, prints its profile and records a stratified split
(``_demo_data``). The training step then selects a model for ``churned`` on that
dataset version: every default family is cross-validated and tuned with Optuna,
averaged into an ensemble, tracked run by run, and the winner is scored once on
the split's test part. The registry step registers the winner (skops plus a
parity-checked ONNX package), evaluates it on the holdout with a fairness report
by region, checks the promotion gates, promotes it to ``champion`` and writes
its model card. Finally it serves the champion in a separate server process,
sends a burst of requests, prints latency figures and a few predictions, and
stops the server with SIGTERM. Later issues close the loop (monitor -> retrain).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.cli._demo_data import ingest_demo_data
from modelyard.cli._demo_serve import serve_burst
from modelyard.cli._models_render import evaluation_tables, formats_table, gates_table
from modelyard.cli.app import client, console, settings
from modelyard.cli.train import show_result, with_progress
from modelyard.data import DataClient
from modelyard.registry import ModelRegistry, evaluate_version, promote_version, write_model_card
from modelyard.training import TrainResult, train

__all__ = ["DEMO_GATES", "EXPERIMENT", "MODEL", "demo"]

EXPERIMENT = "demo-churn"
MODEL = "churn"
DEMO_GATES = [
    {"metric": "roc_auc >= 0.75"},
    {"no_regression": {"vs": "champion", "metric": "roc_auc", "tolerance": 0.005}},
    {"fairness": {"column": "region", "demographic_parity_difference": "<= 0.2"}},
    {"latency": {"p99_ms": "<= 50", "format": "onnx"}},
    {"size": {"mb": "<= 50"}},
    {"checks": {"leakage": False}},
]


def demo(
    ctx: typer.Context,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    rows: Annotated[int, typer.Option(min=1000, help="Rows of synthetic churn data.")] = 5000,
    trials: Annotated[int, typer.Option(min=0, help="Tuning trials.")] = 8,
) -> None:
    """Ingest synthetic churn data (masked, validated, profiled); train, tune and track
    candidate models on it; register the best, evaluate it, check the promotion gates,
    promote it to champion and write its model card."""
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
    _registry_step(ctx, result, dataset.ref)


def _registry_step(ctx: typer.Context, result: TrainResult, data_ref: str) -> None:
    """Register, evaluate, gate, promote and document the chosen model."""
    registry = ModelRegistry.from_settings(settings(ctx))
    ctx.call_on_close(registry.close)
    with console.status("registering the chosen model") as status:
        version = registry.register(
            result, MODEL, description="demo churn model", on_step=status.update
        )
    console.print(f"\n[bold]registered[/] {version.ref}")
    console.print(formats_table(version))
    with console.status(f"evaluating {version.ref} on its holdout") as status:
        doc = evaluate_version(registry, version.ref, sensitive="region", on_progress=status.update)
    for table in evaluation_tables(doc):
        console.print(table)
    promotion = promote_version(registry, version.ref, gates=DEMO_GATES)
    console.print(gates_table(promotion.gates))
    if promotion.promoted:
        console.print(f"[green]promoted[/] {version.ref} to champion")
    else:
        console.print(f"[yellow]{version.ref} not promoted[/]: a gate failed (see above)")
    card = settings(ctx).home / "cards" / f"{MODEL}-v{version.version}.html"
    card.parent.mkdir(parents=True, exist_ok=True)
    write_model_card(
        registry,
        version.ref,
        card,
        intended_use="Rank customers by churn risk for retention outreach (demo data).",
        limitations=["Trained on synthetic data: not for real decisions."],
    )
    console.print(f"model card: {card}")
    if promotion.promoted:
        _serving_step(ctx, data_ref)


def _serving_step(ctx: typer.Context, data_ref: str) -> None:
    """Serve the champion in a separate process, send a burst, stop it with SIGTERM."""
    import orjson

    conf = settings(ctx)
    data = DataClient.from_settings(conf)
    ctx.call_on_close(data.close)
    rows = data.get(data_ref).to_pandas().drop(columns=["churned"]).head(50)
    records = orjson.loads(rows.to_json(orient="records", date_format="iso"))
    console.print(f"\n[bold]serving[/] {MODEL}@champion")
    serve_burst(conf.home, f"{MODEL}@champion", records)
