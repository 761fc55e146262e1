"""``modelyard predict`` (batch) and ``modelyard predict-stream`` (Redis Streams)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import typer
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from modelyard.cli.app import console, emit_json
from modelyard.cli.models import registry
from modelyard.exceptions import ValidationError
from modelyard.serving.batch import BatchResult, predict_batch
from modelyard.serving.stream import StreamPredictor, StreamStats

__all__ = ["predict_command", "predict_stream_command"]

_STREAM_URL_HELP = "redis://[:PASSWORD@]HOST:PORT/DB?stream=NAME (as `data ingest` reads streams)"


def predict_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model version, e.g. churn@champion.")],
    source: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="A .parquet or .csv file (path or fsspec URL), or NAME@VERSION."
        ),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="A .parquet or .csv file to write.")
    ],
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk (bounds memory).")
    ] = 50_000,
    executor: Annotated[str, typer.Option("--executor", help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster (default: a local one).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Input column copied to the output.")
    ] = None,
    include_inputs: Annotated[
        bool, typer.Option("--include-inputs", help="Copy every input column to the output.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Predict every row of a file or dataset in chunks; write predictions
    (prediction, proba_<class>) to Parquet or CSV. The output is replaced only on success."""
    models = registry(ctx)
    options: dict[str, Any] = {
        "chunk_rows": chunk_rows,
        "executor": executor,
        "ray_address": ray_address,
        "id_column": id_column,
        "include_inputs": include_inputs,
    }
    if as_json:
        result = predict_batch(models, ref, source, output, **options)
        emit_json(_result_json(ref, result))
        return
    with _progress() as progress:
        task = progress.add_task(f"predicting {escape(source)}", total=None, rate="")

        def on_progress(rows: int, total: int | None, seconds: float) -> None:
            rate = f"{rows / seconds:,.0f} rows/s" if seconds > 0 else ""
            progress.update(task, completed=rows, total=total, rate=rate)

        result = predict_batch(models, ref, source, output, on_progress=on_progress, **options)
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"[bold]{escape(ref)}[/]: {result.rows:,} rows → {escape(result.output)} "
        f"({result.format}, {result.seconds:.1f}s, {rate:,.0f} rows/s)"
    )


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _result_json(ref: str, result: BatchResult) -> dict[str, Any]:
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    return {
        "model": ref,
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "rows_per_second": round(rate, 1),
        "output": result.output,
        "format": result.format,
    }


def predict_stream_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model version, e.g. churn@champion.")],
    source: Annotated[str, typer.Option("--from", help=f"Input stream: {_STREAM_URL_HELP}.")],
    sink: Annotated[
        str, typer.Option("--to", help="Output stream, on the same Redis: ...?stream=NAME.")
    ],
    group: Annotated[str, typer.Option("--group", help="Consumer group.")],
    consumer: Annotated[
        str | None,
        typer.Option("--consumer", help="Consumer name; keep it across restarts to resume."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Messages per batch.")] = 500,
    block_ms: Annotated[int, typer.Option("--block-ms", help="Wait for new messages.")] = 1000,
    claim_idle_ms: Annotated[
        int, typer.Option("--claim-idle-ms", help="Take over messages idle this long.")
    ] = 30_000,
    max_batches: Annotated[
        int | None, typer.Option("--max-batches", help="Stop after this many batches (testing).")
    ] = None,
) -> None:
    """Predict a Redis stream in a consumer group until Ctrl-C / SIGTERM: one answer per
    message (id, prediction, probabilities, model, version) on --to, acknowledged with it;
    unfit messages go to <stream>:dead-letter."""
    url, in_stream = _stream_url(source, "--from")
    sink_url, out_stream = _stream_url(sink, "--to")
    if sink_url != url:
        raise ValidationError(
            "--from and --to must name streams on the same Redis server and database (answers "
            "and acknowledgements are written together); change the server part of --to"
        )
    start = time.perf_counter()
    with (
        _stop_on_signals() as stop,
        StreamPredictor(
            registry(ctx),
            ref,
            redis_url=url,
            source_stream=in_stream,
            sink_stream=out_stream,
            group=group,
            consumer=consumer,
            batch_size=batch_size,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
        ) as worker,
        Live(console=console, refresh_per_second=4, transient=False) as live,
    ):
        label = f"{escape(in_stream)} → {escape(out_stream)} ({escape(worker.model.ref)})"
        live.update(f"{label}: waiting for messages")

        def on_progress(stats: StreamStats) -> None:
            rate = stats.predicted / max(time.perf_counter() - start, 1e-9)
            live.update(f"{label}: {_counts(stats)}, {rate:,.0f} predictions/s")
            if max_batches is not None and stats.batches >= max_batches:
                stop.set()

        stats = worker.run(stop, on_progress)
    console.print(f"stopped: {_counts(stats)}")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT and SIGTERM set (the batch in hand is finished, then exit 0)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _counts(stats: StreamStats) -> str:
    text = (
        f"{stats.predicted:,} predicted, {stats.dead_lettered:,} dead-lettered, "
        f"{stats.batches:,} batches"
    )
    return text + (f", {stats.lost:,} taken over by others" if stats.lost else "")


def _stream_url(url: str, option: str) -> tuple[str, str]:
    """The server URL (without ``stream=``) and the stream name of a stream URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValidationError(f"{option} must be a Redis URL: {_STREAM_URL_HELP}; got {scheme}")
    params = parse_qsl(parts.query, keep_blank_values=True)
    streams = [value for key, value in params if key == "stream"]
    if len(streams) != 1 or not streams[0]:
        raise ValidationError(f"{option} must name one stream: {_STREAM_URL_HELP}")
    rest = urlencode([(key, value) for key, value in params if key != "stream"])
    return parts._replace(query=rest).geturl(), streams[0]
