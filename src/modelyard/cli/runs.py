"""``modelyard runs ...``: list, show and compare runs."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli._render import fmt_duration, fmt_time, fmt_value, runs_table, sparkline
from modelyard.cli.app import client, console, emit_json
from modelyard.exceptions import ValidationError
from modelyard.store import Run
from modelyard.tracking import TrackingClient

__all__ = ["app"]

app = typer.Typer(help="List, show and compare runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name (repeatable).")
    ] = None,
    filter_string: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.9 and params.model = 'rf'\""),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.auc DESC'.")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric column to show (repeatable).")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="Rows per page.")] = 50,
    page_token: Annotated[str | None, typer.Option(help="Token printed under a page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List runs, newest first, with their latest metrics."""
    page = client(ctx).search_runs(
        experiment or None,
        filter=filter_string,
        order_by=order_by or (),
        max_results=max_results,
        page_token=page_token,
    )
    if as_json:
        data = {"runs": [r.to_dict() for r in page], "next_page_token": page.next_page_token}
        emit_json(data)
        return
    if not page.runs:
        console.print("No runs match.")
        return
    console.print(runs_table(page.runs, metrics=metric or None))
    if page.next_page_token:
        console.print(f"more: --page-token {page.next_page_token}")
    first = page.runs[0].info.run_id
    console.print(f"[dim]full ids: --json; details: modelyard runs show {first}[/]")


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show one run: attributes, params, metrics, tags and artifacts."""
    tracking = client(ctx)
    run = tracking.get_run(run_id)
    artifacts = tracking.list_artifacts(run_id)
    if as_json:
        data = run.to_dict() | {"artifacts": [a.__dict__ for a in artifacts]}
        emit_json(data)
        return
    info = run.info
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("run", info.run_id),
        ("name", info.name),
        ("status", info.status),
        ("experiment", str(info.experiment_id)),
        ("user", info.user_id),
        ("started", fmt_time(info.start_time)),
        ("duration", fmt_duration(info.start_time, info.end_time)),
        ("parent", info.parent_run_id or "-"),
    ):
        head.add_row(f"[bold]{label}[/]", escape(value))
    console.print(head)
    for title, values in (("Params", run.data.params), ("Tags", run.data.tags)):
        if values:
            table = Table(title=title)
            table.add_column("Key", style="bold")
            table.add_column("Value")
            for key in sorted(values):
                table.add_row(escape(key), fmt_value(values[key]))
            console.print(table)
    if run.data.metrics:
        console.print(_metrics_table(tracking, run))
    if artifacts:
        table = Table(title="Artifacts")
        table.add_column("Path", style="bold")
        table.add_column("Size", justify="right")
        table.add_column("Blob (sha256)", style="dim")
        for entry in artifacts:
            table.add_row(escape(entry.path), f"{entry.size:,}", entry.blob[:16])
        console.print(table)


@app.command("compare")
def compare_runs(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
) -> None:
    """Params and latest metrics of several runs side by side (differences highlighted)."""
    if len(run_ids) < 2:
        raise ValidationError("compare needs at least two run ids")
    tracking = client(ctx)
    found = [tracking.get_run(run_id) for run_id in run_ids]
    console.print(_compare_table(found))


def _metrics_table(tracking: TrackingClient, run: Run) -> Table:
    table = Table(title="Metrics")
    table.add_column("Key", style="bold")
    table.add_column("Latest", justify="right")
    table.add_column("Steps", justify="right")
    table.add_column("Min", justify="right")
    table.add_column("Max", justify="right")
    table.add_column("History", style="cyan", no_wrap=True)
    for key in sorted(run.data.metrics):
        values = [m.value for m in tracking.get_metric_history(run.info.run_id, key)]
        finite = [v for v in values if math.isfinite(v)]
        table.add_row(
            escape(key),
            fmt_value(run.data.metrics[key]),
            str(len(values)),
            fmt_value(min(finite)) if finite else "",
            fmt_value(max(finite)) if finite else "",
            sparkline(values) if len(values) > 1 else "",
        )
    return table


def _compare_table(found: list[Run]) -> Table:
    table = Table(title="Run comparison")
    table.add_column("", style="bold")
    for run in found:
        table.add_column(f"{escape(run.info.name)}\n[dim]{run.info.run_id[:8]}[/]", justify="right")
    table.add_row("status", *(r.info.status for r in found))
    for section in ("params", "metrics"):
        keys = sorted({k for r in found for k in getattr(r.data, section)})
        if keys:
            table.add_section()
        for key in keys:
            values = [getattr(r.data, section).get(key) for r in found]
            cells = [fmt_value(v) for v in values]
            if len(set(cells)) > 1:  # highlight what differs between the runs
                cells = [f"[yellow]{c}[/]" for c in cells]
            table.add_row(f"{section}.{key}", *cells)
    return table
