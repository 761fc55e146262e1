"""``modelyard data ...``: ingest, list, show, diff, validate, query, split and consume."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from modelyard.cli._data_render import (
    arrow_table,
    datasets_table,
    diff_table,
    profile_table,
    report_table,
)
from modelyard.cli.app import console, emit_json, settings
from modelyard.data import (
    DataClient,
    Dataset,
    compare_profiles,
    parse_dtypes,
    parse_mask_policy,
)
from modelyard.exceptions import ValidationError

__all__ = ["app"]

app = typer.Typer(
    help="Versioned datasets: ingest, inspect, validate, query.", no_args_is_help=True
)


def data_client(ctx: typer.Context) -> DataClient:
    """A data client on this invocation's settings, closed when the command ends."""
    client = DataClient.from_settings(settings(ctx))
    ctx.call_on_close(client.close)
    return client


def _masks(items: list[str] | None) -> dict[str, str]:
    policies: dict[str, str] = {}
    for item in items or []:
        column, sep, policy = item.partition("=")
        if not sep or not column:
            raise ValidationError(f"bad --mask {item!r}: write COLUMN=POLICY, e.g. email=hmac")
        parse_mask_policy(policy)  # fail before reading anything
        policies[column] = policy
    return policies


def _with_progress(label: str, work: Any) -> Any:
    """Run ``work(on_rows)`` under a live rows and rows/s counter."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    start = time.perf_counter()
    with progress:
        task = progress.add_task(label, total=None, rate="")

        def on_rows(n: int) -> None:
            progress.advance(task, n)
            done = progress.tasks[0].completed
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, rate=f"{rate:,.0f} rows/s")

        return work(on_rows)


def _summary(dataset: Dataset, seconds: float) -> None:
    rate = dataset.num_rows / seconds if seconds > 0 else 0.0
    console.print(
        f"[bold]{escape(dataset.ref)}[/] {dataset.num_rows:,} rows, {len(dataset.columns)} columns, "
        f"hash {dataset.content_hash[:12]} ({seconds:.1f}s, {rate:,.0f} rows/s)"
    )
    if dataset.bad_lines:
        console.print(f"[yellow]skipped {dataset.bad_lines:,} malformed line(s)[/]")
    if dataset.validation and not dataset.validation.get("passed", True):
        failed = [r["rule"] for r in dataset.validation["results"] if not r["passed"]]
        console.print(
            f"[yellow]rules that failed (warn/quarantine): {escape(', '.join(failed))}[/]"
        )


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="File, fsspec URL, or database URL (with --query).")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")],
    mask: Annotated[
        list[str] | None,
        typer.Option("--mask", help="COLUMN=POLICY: hmac, redact, drop, generalize:…"),
    ] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Validation rules (YAML).")] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Type overrides: 'age=int64,plan=category'.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="SQL, for a database URL.")] = None,
    on_bad_lines: Annotated[
        str, typer.Option("--on-bad-lines", help="error (default) or skip malformed CSV rows.")
    ] = "error",
    show_profile: Annotated[bool, typer.Option("--profile/--no-profile")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ingest a source as a new dataset version (masked, validated, profiled)."""
    client = data_client(ctx)
    policies = _masks(mask)
    start = time.perf_counter()

    def work(on_rows: Any) -> Dataset:
        return client.ingest(
            source,
            name,
            format=fmt,
            dtypes=schema,
            mask=policies or None,
            rules=rules,
            on_bad_lines=on_bad_lines,
            query=query,
            on_rows=None if as_json else on_rows,
        )

    dataset = work(None) if as_json else _with_progress(f"ingesting {escape(source)}", work)
    if as_json:
        emit_json(_dataset_json(dataset))
        return
    _summary(dataset, time.perf_counter() - start)
    if show_profile:
        console.print(profile_table(dataset.profile, dataset.masking))


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Show every version of this dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List datasets (latest versions), or every version of one."""
    client = data_client(ctx)
    datasets = client.versions(name) if name else client.list_datasets()
    if as_json:
        emit_json([_dataset_json(d, profile=False) for d in datasets])
    elif not datasets:
        console.print("No datasets yet: modelyard data ingest FILE --name NAME")
    else:
        console.print(datasets_table(datasets))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@HASH.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a version: lineage, schema and per-column profile."""
    dataset = data_client(ctx).get(ref)
    if as_json:
        emit_json(_dataset_json(dataset))
        return
    console.print(datasets_table([dataset]))
    parent = f"{dataset.name}@{dataset.parent_version}" if dataset.parent_version else "none"
    console.print(f"parent: {escape(parent)}   source: {escape(str(dataset.source))}")
    if dataset.masking:
        console.print(
            f"masked: {escape(', '.join(f'{k}={v}' for k, v in dataset.masking.items()))}"
        )
    splits = dataset.splits()
    if splits:
        console.print("splits: " + escape(", ".join(f"{s.name} {s.counts}" for s in splits)))
    console.print(profile_table(dataset.profile, dataset.masking))


@app.command("diff")
def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="NAME@A")],
    new: Annotated[str, typer.Argument(help="NAME@B")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare two versions: schema changes, row counts, per-column statistics."""
    client = data_client(ctx)
    a, b = client.get(old), client.get(new)
    changes = compare_profiles(a.profile, b.profile)
    if as_json:
        emit_json(
            {
                "old": a.ref,
                "new": b.ref,
                "rows": {"old": a.num_rows, "new": b.num_rows, "delta": b.num_rows - a.num_rows},
                "columns": [c.to_dict() for c in changes],
            }
        )
        return
    console.print(f"rows: {a.num_rows:,} → {b.num_rows:,} ({b.num_rows - a.num_rows:+,})")
    if not any(c.changed for c in changes):
        console.print("no column changed")
        return
    console.print(diff_table(changes, a.ref, b.ref))


@app.command("validate")
def validate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME[@VERSION]")],
    rules: Annotated[Path, typer.Option("--rules", help="Validation rules (YAML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a stored version against rules; exit 1 when an error-level rule fails."""
    report = data_client(ctx).validate(ref, rules)
    if as_json:
        emit_json(report.to_dict())
    else:
        console.print(report_table(report))
    if report.failed_with("error"):
        raise typer.Exit(1)


@app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help='e.g. "SELECT region, avg(tenure) FROM churn@3 GROUP BY 1"')
    ],
    limit: Annotated[int, typer.Option("--limit", help="Rows to print.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Run SQL (DuckDB) over dataset versions."""
    result = data_client(ctx).query(sql)
    if as_json:
        emit_json(result.slice(0, limit).to_pylist())
        return
    console.print(arrow_table(result, limit))
    if result.num_rows > limit:
        console.print(f"… {result.num_rows - limit:,} more rows (--limit)")


@app.command("split")
def split(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME[@VERSION]")],
    name: Annotated[str, typer.Option("--name", help="Split name.")] = "default",
    kind: Annotated[str, typer.Option("--kind", help="random, stratified or time.")] = "random",
    fractions: Annotated[
        str, typer.Option("--fractions", help="e.g. train=0.7,valid=0.15,test=0.15")
    ] = "train=0.7,valid=0.15,test=0.15",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    by: Annotated[str | None, typer.Option("--by", help="Stratify by this column.")] = None,
    time_column: Annotated[str | None, typer.Option("--time-column")] = None,
) -> None:
    """Record a deterministic split of a version, for training to name."""
    parts: dict[str, float] = {}
    for item in fractions.split(","):
        part, sep, value = item.partition("=")
        try:
            parts[part.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValidationError(f"bad --fractions entry {item!r}: write PART=FRACTION")
    dataset = data_client(ctx).get(ref)
    made = dataset.split(
        name, kind=kind, fractions=parts, seed=seed, by=by, time_column=time_column
    )
    console.print(
        f"{escape(dataset.ref)} split {escape(made.name)!r}: "
        + ", ".join(f"{k} {v:,}" for k, v in made.counts.items())
    )


@app.command("consume")
def consume(
    ctx: typer.Context,
    stream: Annotated[str, typer.Argument(help="Redis stream key.")],
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset to append to.")],
    group: Annotated[str, typer.Option("--group", help="Consumer group.")],
    consumer: Annotated[str | None, typer.Option("--consumer", help="Consumer name.")] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Default: $MODELYARD_REDIS_URL.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 500,
    block_ms: Annotated[int, typer.Option("--block-ms")] = 1000,
    claim_idle_ms: Annotated[int, typer.Option("--claim-idle-ms")] = 30_000,
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Types for a new dataset: 'amount=float64,user=int64'."),
    ] = None,
    max_batches: Annotated[
        int | None, typer.Option("--max-batches", help="Stop after this many batches (testing).")
    ] = None,
) -> None:
    """Consume a Redis stream into a dataset until Ctrl-C / SIGTERM (committing first)."""
    from modelyard.data import ConsumerConfig, StreamConsumer

    conf = settings(ctx)
    client = data_client(ctx)
    options: dict[str, Any] = {"stream": stream, "group": group, "batch_size": batch_size}
    options.update(block_ms=block_ms, claim_idle_ms=claim_idle_ms)
    if consumer:
        options["consumer"] = consumer
    config = ConsumerConfig(**options)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sink = client.sink(dataset)
    try:
        with (
            StreamConsumer(
                redis_url or conf.redis_url, sink, config, dtypes=parse_dtypes(schema)
            ) as reader,
            Live(console=console, refresh_per_second=4, transient=False) as live,
        ):

            def on_batch(stats: Any) -> None:
                live.update(
                    f"{escape(stream)} → {escape(dataset)}: {stats.committed_rows:,} rows committed, "
                    f"{stats.duplicates_skipped:,} duplicates skipped, "
                    f"{stats.dead_lettered:,} dead-lettered, {stats.batches:,} batches"
                )
                if max_batches is not None and stats.batches >= max_batches:
                    stop.set()

            stats = reader.run(stop, on_batch)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(
        f"stopped: {stats.committed_rows:,} rows committed in {sink.versions_committed:,} "
        f"version(s), {stats.dead_lettered:,} dead-lettered"
    )


def _dataset_json(dataset: Dataset, *, profile: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ref": dataset.ref,
        "name": dataset.name,
        "version": dataset.version,
        "content_hash": dataset.content_hash,
        "num_rows": dataset.num_rows,
        "num_bytes": dataset.num_bytes,
        "columns": dataset.columns,
        "source": dataset.source,
        "masking": dataset.masking,
        "bad_lines": dataset.bad_lines,
        "parent_version": dataset.parent_version,
        "created_by": dataset.created_by,
        "created_at": dataset.created_at.isoformat(),
        "validation": dataset.validation,
    }
    if profile:
        doc["profile"] = dataset.profile.to_dict()
    return doc
