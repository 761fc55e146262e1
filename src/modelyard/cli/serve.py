"""``modelyard serve`` and ``modelyard deploy``: run the inference server, change traffic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli.app import console, emit_json, settings
from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.serving import BatchingSpec, ServeOptions, ServerLimits, serve

__all__ = ["deploy_app", "serve_command"]

deploy_app = typer.Typer(
    help="Change a running server's traffic: canary, weights, promote, rollback."
)


def serve_command(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to serve, e.g. churn@champion.")
    ] = None,
    deployment: Annotated[
        Path | None, typer.Option("--deployment", help="Deployment file (YAML).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    max_batch_size: Annotated[int, typer.Option(min=1, help="Rows per batched model call.")] = 64,
    max_latency_ms: Annotated[
        float, typer.Option(min=0, help="Longest wait for a batch to fill under load.")
    ] = 2.0,
    no_batching: Annotated[
        bool, typer.Option("--no-batching", help="Call models per request.")
    ] = False,
    max_body_mb: Annotated[float, typer.Option(min=0.001, help="Request body cap (413).")] = 8.0,
    timeout_s: Annotated[float, typer.Option(min=0.01, help="Per-request timeout (504).")] = 10.0,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep no prediction log.")] = False,
) -> None:
    """Serve registered models over the Open Inference Protocol and a JSON API."""
    if not models and deployment is None:
        raise ValidationError(
            "name models to serve (modelyard serve churn@champion) or --deployment"
        )
    options = ServeOptions(
        models=tuple(models or ()),
        deployment_file=str(deployment) if deployment is not None else None,
        host=host,
        port=port,
        workers=workers,
        batching=BatchingSpec(
            enabled=not no_batching, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms
        ),
        limits=ServerLimits(
            max_body_bytes=int(max_body_mb * 1024 * 1024), request_timeout_s=timeout_s
        ),
        log_predictions=not no_log,
    )
    conf = settings(ctx)
    console.print(
        f"serving {escape(', '.join(options.models) or str(deployment))} on "
        f"http://{host}:{port} ({workers} worker(s)); Ctrl-C stops"
    )
    serve(options, conf)


Server = Annotated[str, typer.Option("--server", help="Base URL of the running server.")]


def _admin(ctx: typer.Context, server: str, method: str, path: str, body: Any = None) -> Any:
    import httpx

    token = settings(ctx).admin_token
    if not token:
        raise ValidationError("set MODELYARD_ADMIN_TOKEN to the server's admin token")
    try:
        response = httpx.request(
            method,
            server.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        raise ModelyardError(f"cannot reach the server at {server}: {exc}") from exc
    payload = response.json() if response.content else {}
    if response.status_code >= 400:
        raise ModelyardError(
            f"server answered {response.status_code}: {payload.get('error', payload)}"
        )
    return payload


@deploy_app.command("set")
def set_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Deployment (endpoint) name.")],
    canary: Annotated[str | None, typer.Option(help="Model version for the canary.")] = None,
    weight: Annotated[float, typer.Option(help="Canary share of traffic, percent.")] = 10.0,
    model: Annotated[str | None, typer.Option(help="Serve only this version (100%).")] = None,
    server: Server = "http://127.0.0.1:8080",
) -> None:
    """Start a canary (--canary churn@5 --weight 10) or switch to one version (--model)."""
    if (canary is None) == (model is None):
        raise ValidationError("give exactly one of --canary or --model")
    if canary is not None:
        result = _admin(
            ctx,
            server,
            "POST",
            f"/admin/deployments/{name}/canary",
            {"model": canary, "weight": weight},
        )
    else:
        result = _admin(
            ctx,
            server,
            "PUT",
            f"/admin/deployments/{name}",
            {"variants": [{"model": model, "weight": 100}]},
        )
    _show(result["deployment"])


@deploy_app.command("promote")
def promote_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    model: Annotated[
        str | None, typer.Option(help="Version to promote (default: the canary).")
    ] = None,
    server: Server = "http://127.0.0.1:8080",
) -> None:
    """Send all traffic to the canary (or --model)."""
    body = {"model": model} if model else {}
    _show(_admin(ctx, server, "POST", f"/admin/deployments/{name}/promote", body)["deployment"])


@deploy_app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    server: Server = "http://127.0.0.1:8080",
) -> None:
    """Go back to what the deployment served before its last change."""
    _show(_admin(ctx, server, "POST", f"/admin/deployments/{name}/rollback")["deployment"])


@deploy_app.command("status")
def status_command(
    ctx: typer.Context,
    server: Server = "http://127.0.0.1:8080",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What each deployment serves right now."""
    result = _admin(ctx, server, "GET", "/admin/deployments")
    if as_json:
        emit_json(result)
        return
    for name, entry in result["deployments"].items():
        ready = (
            "[green]ready[/]"
            if entry["ready"]
            else f"[red]not ready[/]: {escape(str(entry['error']))}"
        )
        console.print(f"[bold]{escape(name)}[/] {ready}")
        if entry.get("deployment"):
            _show(entry["deployment"])
        if entry.get("history"):
            console.print(_history_table(entry["history"]))


def _history_table(history: list[dict[str, Any]]) -> Table:
    """The newest changes first: what each replaced (what a rollback returns to)."""
    table = Table(title="recent changes (newest first)", title_justify="left")
    for column in ("when (UTC)", "action", "by", "replaced", "undone"):
        table.add_column(column)
    for change in history:
        replaced = change.get("replaced") or {}
        served = ", ".join(f"{v['model']} {v['weight']:g}%" for v in replaced.get("variants", []))
        table.add_row(
            _when(change.get("at")),
            escape(str(change.get("action", ""))),
            escape(str(change.get("user") or "")),
            escape(served or "-"),
            _when(change.get("undone_at")) if change.get("undone_at") else "",
        )
    return table


def _when(millis: Any) -> str:
    if not isinstance(millis, int | float):
        return ""
    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _show(deployment: dict[str, Any]) -> None:
    parts = [f"{escape(v['model'])} {v['weight']:g}%" for v in deployment["variants"]]
    shadows = (
        f"; shadows: {escape(', '.join(deployment['shadows']))}" if deployment["shadows"] else ""
    )
    console.print(f"{escape(deployment['name'])}: {', '.join(parts)}{shadows}")
