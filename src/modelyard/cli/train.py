"""``modelyard train``: search, select and track a model, with a live progress display."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.cli._render import fmt_value
from modelyard.cli.app import client, console, emit_json, settings
from modelyard.data import DataClient
from modelyard.training import Progress as TrainProgress
from modelyard.training import TrainResult, TrainSpec, parse_duration, train

__all__ = ["leaderboard_table", "show_result", "train_command", "with_progress"]


def train_command(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset reference, e.g. churn@latest.")],
    target: Annotated[str, typer.Option("--target", help="Column to predict.")],
    spec: Annotated[Path | None, typer.Option("--spec", help="Training spec (YAML).")] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="Trial budget.")] = None,
    time_budget: Annotated[
        str | None, typer.Option("--time-budget", help="Wall-time budget: 90s, 10m, 1h.")
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local (default) or ray.")
    ] = None,
    n_jobs: Annotated[int | None, typer.Option("--n-jobs", help="Worker processes.")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train candidates with cross-validation and tuning; print the leaderboard."""
    parsed = TrainSpec.from_yaml(spec) if spec is not None else TrainSpec()
    parsed = _override(parsed, trials, time_budget, executor, n_jobs)
    conf = settings(ctx)
    tracking = client(ctx)
    data_client = DataClient.from_settings(conf)
    ctx.call_on_close(data_client.close)
    if as_json:
        result = train(
            data,
            target,
            parsed,
            experiment=experiment,
            tracking=tracking,
            data_client=data_client,
            settings=conf,
        )
        emit_json(_result_json(result))
        return
    result = with_progress(
        lambda on_progress: train(
            data,
            target,
            parsed,
            experiment=experiment,
            tracking=tracking,
            data_client=data_client,
            settings=conf,
            on_progress=on_progress,
        )
    )
    show_result(result)


def show_result(result: TrainResult) -> None:
    """The leaderboard, the choice and why, and the holdout scores."""
    console.print(leaderboard_table(result))
    scores = ", ".join(
        f"{k} {fmt_value(v)}" for k, v in result.holdout.items() if not math.isnan(v)
    )
    console.print(
        f"chosen: [bold]{escape(result.best.name)}[/] ({escape(result.reason)}); holdout: {scores}"
    )
    console.print(f"run: {result.run_id} (`modelyard runs show {result.run_id}`)")


def leaderboard_table(result: TrainResult, limit: int = 15) -> Table:
    """Candidates best first: the primary metric (mean ± std over folds) and costs."""
    metric = result.metric
    extra = [m for m in _metric_columns(result) if m != metric][:3]
    table = Table(title=f"leaderboard ({metric}, {result.task})")
    for name in ("#", "candidate", f"{metric} (cv)", *extra, "fit s", "latency ms", "size MB", ""):
        table.add_column(name, justify="left" if name in ("candidate", "") else "right")
    for row in result.leaderboard[:limit]:
        mean, std = row.get(metric), row.get(f"{metric}_std")
        score = "failed" if mean is None or math.isnan(mean) else f"{mean:.4f} ± {std or 0:.4f}"
        table.add_row(
            str(row["rank"]),
            escape(str(row["candidate"])),
            score,
            *(fmt_value(row.get(m)) for m in extra),
            fmt_value(row.get("fit_seconds")),
            fmt_value(row.get("latency_ms")),
            fmt_value(row.get("size_mb")),
            "[green]chosen[/]" if row.get("chosen") else "",
        )
    return table


def _metric_columns(result: TrainResult) -> list[str]:
    if not result.leaderboard:
        return []
    skip = {"rank", "candidate", "family", "fit_seconds", "latency_ms", "size_mb", "chosen"}
    skip |= {"run_id", "params", "aic", "bic"}
    return [k for k in result.leaderboard[0] if k not in skip and not k.endswith("_std")]


def with_progress(work: Any) -> TrainResult:
    """Run ``work(on_progress)`` under a live bar: trials done/total, best score, elapsed."""
    bar = Progress(
        TextColumn("[bold]trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task("trials", total=None, best="")

        def on_progress(p: TrainProgress) -> None:
            best = "" if p.best is None else f"best {p.best:.4f}"
            bar.update(task, completed=p.done, total=p.total, best=best)

        result: TrainResult = work(on_progress)
        return result


def _override(
    spec: TrainSpec,
    trials: int | None,
    budget: str | None,
    executor: str | None,
    n_jobs: int | None,
) -> TrainSpec:
    doc = spec.to_dict()
    tuning = doc["tuning"]
    if trials is not None:
        tuning["trials"] = trials
    if budget is not None:
        tuning["time_budget"] = parse_duration(budget)
    if executor is not None:
        tuning["executor"] = executor
    if n_jobs is not None:
        tuning["n_jobs"] = n_jobs
    return TrainSpec.from_dict(doc)


def _result_json(result: TrainResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "task": result.task,
        "metric": result.metric,
        "chosen": result.best.name,
        "reason": result.reason,
        "holdout": result.holdout,
        "leaderboard": result.leaderboard,
    }
