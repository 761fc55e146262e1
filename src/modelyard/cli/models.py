"""``modelyard models ...``: register, inspect, evaluate, promote and document models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from modelyard.cli._models_render import (
    evaluation_tables,
    formats_table,
    gates_table,
    history_table,
    lineage_table,
    models_table,
    versions_table,
)
from modelyard.cli.app import console, emit_json, err_console, settings
from modelyard.registry import (
    ModelRegistry,
    check_version_gates,
    evaluate_version,
    parse_model_ref,
    promote_version,
    write_model_card,
)

__all__ = ["app"]

app = typer.Typer(help="Registered models: versions, aliases, evaluation, promotion, cards.")
T = TypeVar("T")

Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept in the history).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def registry(ctx: typer.Context) -> ModelRegistry:
    """A registry on this invocation's settings, closed when the command ends."""
    reg = ModelRegistry.from_settings(settings(ctx))
    ctx.call_on_close(reg.close)
    return reg


def _steps(work: Callable[[Callable[[str], None]], T], title: str) -> T:
    with console.status(title) as status:

        def step(message: str) -> None:
            status.update(f"{title}: {escape(message)}")

        return work(step)


@app.command("list")
def list_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Show this model's versions.")] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", help="Metric condition, e.g. 'roc_auc>=0.8'.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="ready or archived.")] = None,
    order_by: Annotated[str | None, typer.Option("--order-by", help="e.g. 'roc_auc DESC'.")] = None,
    as_json: AsJson = False,
) -> None:
    """Registered models, or the versions of one (filtered by --where / --status)."""
    reg = registry(ctx)
    if name is None and not where and status is None and order_by is None:
        models = reg.list_models()
        if as_json:
            emit_json([m.__dict__ for m in models])
        else:
            console.print(models_table(models))
        return
    versions = reg.search(name, status=status, where=where or (), order_by=order_by)
    if as_json:
        emit_json([_version_json(v) for v in versions])
    else:
        console.print(versions_table(versions))


@app.command("show")
def show_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@ALIAS.")],
    as_json: AsJson = False,
) -> None:
    """Lineage, metrics, formats, evaluation and gates of one version."""
    version = registry(ctx).get(ref)
    if as_json:
        emit_json(_version_json(version, full=True))
        return
    console.print(lineage_table(version))
    console.print(
        "metrics (holdout at training): "
        + ", ".join(f"{k} {v:.4g}" for k, v in version.metrics.items())
    )
    console.print(formats_table(version))
    if version.evaluation:
        for table in evaluation_tables(version.evaluation):
            console.print(table)
    else:
        console.print(f"not evaluated yet: run `modelyard models evaluate {escape(version.ref)}`")
    if version.gates:
        console.print(gates_table(version.gates))


@app.command("register")
def register_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run holding the model (a training job).")],
    name: Annotated[str, typer.Option("--name", "-n", help="Registered model name.")],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    quantize: Annotated[bool, typer.Option(help="Also build an int8 ONNX package.")] = False,
    onnx: Annotated[bool, typer.Option(help="Build the parity-checked ONNX package.")] = True,
    as_json: AsJson = False,
) -> None:
    """Register a run's model as the next version of NAME."""
    reg = registry(ctx)
    version = _steps(
        lambda step: reg.register(
            run_id, name, description=description, quantize=quantize, onnx=onnx, on_step=step
        ),
        f"registering {name}",
    )
    if as_json:
        emit_json(_version_json(version, full=True))
        return
    console.print(f"registered [bold]{escape(version.ref)}[/] from run {version.run_id}")
    console.print(formats_table(version))


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@ALIAS.")],
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Column for the fairness report.")
    ] = None,
    slices: Annotated[
        list[str] | None, typer.Option("--slice", help="Column to report metrics by (repeat).")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Dataset reference (default: the lineage's).")
    ] = None,
    explain: Annotated[bool, typer.Option(help="Importance, partial dependence, SHAP.")] = True,
    as_json: AsJson = False,
) -> None:
    """Evaluate a version on its holdout (metrics, curves, fairness, explanations, checks)."""
    reg = registry(ctx)
    doc = _steps(
        lambda step: evaluate_version(
            reg, ref, sensitive=sensitive, slices=slices or (), data=data, explain=explain,
            on_progress=step,
        ),
        f"evaluating {ref}",
    )  # fmt: skip
    if as_json:
        emit_json(doc)
        return
    for table in evaluation_tables(doc):
        console.print(table)
    for warning in doc.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {escape(str(warning))}")


@app.command("check")
def check_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@ALIAS.")],
    gates: Annotated[Path, typer.Option("--gates", help="Gates file (YAML).")],
    as_json: AsJson = False,
) -> None:
    """Check promotion gates without promoting (exit 1 when one fails)."""
    doc = check_version_gates(registry(ctx), ref, gates)
    if as_json:
        emit_json(doc)
    else:
        console.print(gates_table(doc))
    if not doc["passed"]:
        raise typer.Exit(1)


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to promote.")],
    gates: Annotated[
        Path | None, typer.Option("--gates", help="Gates file (default: no regression).")
    ] = None,
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    force: Annotated[bool, typer.Option(help="Promote even if a gate fails.")] = False,
    reason: Reason = None,
    as_json: AsJson = False,
) -> None:
    """Move the champion alias to REF when every gate passes (exit 1 otherwise)."""
    result = promote_version(
        registry(ctx), ref, gates=gates, alias=alias, force=force, reason=reason
    )
    if as_json:
        emit_json({"promoted": result.promoted, "previous": result.previous, "gates": result.gates})
    else:
        console.print(gates_table(result.gates))
        if result.promoted:
            before = f"v{result.previous}" if result.previous else "nothing"
            console.print(
                f"[green]promoted[/] {escape(result.version.ref)} to {escape(alias)} (was {before})"
            )
        else:
            err_console.print(
                "[red]not promoted[/]: a gate failed; fix it, or override with "
                "--force --reason '...'"
            )
    if not result.promoted:
        raise typer.Exit(1)


@app.command("alias")
def alias_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias (champion, challenger, ...).")],
    version: Annotated[int | None, typer.Argument(help="Version to point at.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: Reason = None,
) -> None:
    """Point an alias at a version (or --delete it)."""
    reg = registry(ctx)
    if delete:
        before = reg.delete_alias(name, alias, reason=reason)
        console.print(f"removed {escape(name)}@{escape(alias)} (was v{before})")
        return
    if version is None:
        raise typer.BadParameter("give the VERSION to point at, or --delete", param_hint="VERSION")
    before_version = reg.set_alias(name, alias, version, reason=reason)
    was = f"v{before_version}" if before_version else "unset"
    console.print(f"{escape(name)}@{escape(alias)} → v{version} (was {was})")


@app.command("card")
def card_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@ALIAS.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="card.html or card.md")],
    intended_use: Annotated[str | None, typer.Option("--intended-use")] = None,
    limitation: Annotated[
        list[str] | None, typer.Option("--limitation", help="A known limitation (repeat).")
    ] = None,
) -> None:
    """Write the model card (self-contained HTML or Markdown)."""
    write_model_card(
        registry(ctx), ref, output, intended_use=intended_use, limitations=limitation or ()
    )
    console.print(f"wrote {escape(str(output))}")


@app.command("history")
def history_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    as_json: AsJson = False,
) -> None:
    """Every registration, alias move and status change (who, when, from, to, why)."""
    events = registry(ctx).history(parse_model_ref(name).name)
    if as_json:
        emit_json([e.__dict__ for e in events])
    else:
        console.print(history_table(events))


@app.command("archive")
def archive_command(ctx: typer.Context, ref: str, reason: Reason = None) -> None:
    """Archive a version (refused while an alias or deployment points at it)."""
    console.print(f"archived {escape(registry(ctx).archive(ref, reason=reason).ref)}")


@app.command("restore")
def restore_command(ctx: typer.Context, ref: str, reason: Reason = None) -> None:
    """Bring an archived version back."""
    console.print(f"restored {escape(registry(ctx).restore(ref, reason=reason).ref)}")


@app.command("delete")
def delete_command(ctx: typer.Context, ref: str, reason: Reason = None) -> None:
    """Delete a version (refused while an alias or deployment points at it)."""
    console.print(f"deleted {escape(registry(ctx).delete(ref, reason=reason).ref)}")


def _version_json(version: Any, *, full: bool = False) -> dict[str, Any]:
    doc = dict(version.__dict__)
    doc["aliases"] = list(version.aliases)
    if not full:
        for key in ("evaluation", "lineage", "signature"):
            doc.pop(key, None)
    return doc
