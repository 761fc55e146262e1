"""Batch inference: a registered model over a Parquet file, a CSV file or a dataset.

The input is read in chunks of ``chunk_rows`` rows (memory is bounded by the chunk
size, not the input size), each chunk is checked against the model's signature and
predicted, and the output (``prediction``, ``proba_<class>`` for classifiers, plus an
id column or every input column) is written chunk by chunk to a temporary file that
replaces the output only when every row is done.

Example::

    result = predict_batch(registry, "churn@champion", "customers.parquet", "preds.parquet",
                           id_column="customer_id")
    print(f"{result.rows:,} rows in {result.seconds:.1f}s")
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelyard.data import DataClient
from modelyard.exceptions import SignatureError, ValidationError
from modelyard.registry import ModelRegistry
from modelyard.serving._batch_chunks import ChunkPredictor, ModelPackage, output_names
from modelyard.serving._batch_io import (
    BatchInput,
    OutputWriter,
    csv_types,
    open_input,
    output_format,
    rechunk,
)
from modelyard.serving.runtime import ServedModel, load_served_model

__all__ = ["EXECUTORS", "BatchResult", "ProgressCallback", "predict_batch"]

EXECUTORS = ("local", "ray")
_MAX_CHUNK_ROWS = 10_000_000
_THREADS = max(1, min(4, os.cpu_count() or 1))

ProgressCallback = Callable[[int, "int | None", float], None]
"""Called after each chunk with rows done, total rows (None if unknown) and seconds."""


@dataclass(frozen=True)
class BatchResult:
    """What :func:`predict_batch` did.

    Attributes:
        rows: Rows predicted (and written).
        seconds: Wall time, reading and writing included.
        output: Where the output is (an absolute path for a local file).
        format: ``parquet`` or ``csv``.
    """

    rows: int
    seconds: float
    output: str
    format: str


def predict_batch(
    registry: ModelRegistry,
    ref: str,
    source: str,
    output: str,
    *,
    chunk_rows: int = 50_000,
    executor: str = "local",
    ray_address: str | None = None,
    data_client: DataClient | None = None,
    on_progress: ProgressCallback | None = None,
    include_inputs: bool = False,
    id_column: str | None = None,
) -> BatchResult:
    """Predict every row of ``source`` with the model ``ref`` names; write ``output``.

    Args:
        registry: Where the model lives.
        ref: ``churn@champion``, ``churn@3``, ``churn``.
        source: A Parquet or CSV file (path or fsspec URL; ``.csv.gz`` too), or a
            dataset version ``NAME@VERSION``. Columns the model does not use (ids,
            the target) may be present; they are not fed to the model.
        output: A ``.parquet`` or ``.csv`` path or fsspec URL; replaced only on success.
        chunk_rows: Rows per chunk (memory grows with it).
        executor: ``local`` (this process) or ``ray`` (actors on a Ray cluster).
        ray_address: The Ray cluster to join (default: the running instance, or a new
            local one).
        data_client: To read a dataset source (default: the registry's).
        on_progress: Called after each chunk (see :data:`ProgressCallback`).
        include_inputs: Copy every input column to the output, before the predictions
            (from a CSV file, columns the model does not use are copied as text, so that
            a sparse column cannot change type half-way through a large file).
        id_column: Copy this input column to the output (ignored with include_inputs).

    Returns:
        Rows, seconds, the output's location and format.

    Raises:
        SignatureError: The input lacks columns the model uses (before anything is
            written) or holds values that do not fit them.
        ValidationError: A bad argument, an unknown file format, a missing id column,
            or an input column named like a prediction column.
        NotFoundError: No such model version, input file or dataset.
        MissingDependencyError: ``executor="ray"`` without Ray installed.
    """
    start = time.perf_counter()
    _check_options(chunk_rows, executor)
    output_format(output)  # a bad output name fails before any work
    model = load_served_model(registry, ref, intra_op_threads=1)
    data = open_input(source, data_client if data_client is not None else registry.data)
    keep = _kept_columns(model, data, id_column, include_inputs)
    columns = list(dict.fromkeys(keep + _used(model)))
    writer = OutputWriter(output)
    batches = data.batches(columns, csv_types(model.signature, keep), chunk_rows)
    chunks = _numbered(rechunk(batches, chunk_rows), data, columns)
    rows = 0
    try:
        outputs = _predicted(registry, model, keep, chunks, executor, ray_address)
        with contextlib.closing(outputs) as outs:
            for table in outs:
                writer.write(table)
                rows += table.num_rows
                if on_progress is not None:
                    on_progress(rows, data.total_rows, time.perf_counter() - start)
        target = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return BatchResult(rows, time.perf_counter() - start, target, writer.format)


def _check_options(chunk_rows: int, executor: str) -> None:
    if type(chunk_rows) is not int or not 1 <= chunk_rows <= _MAX_CHUNK_ROWS:
        raise ValidationError(
            f"chunk_rows must be a whole number from 1 to {_MAX_CHUNK_ROWS:,}, got "
            f"{chunk_rows!r:.40}"
        )
    if executor not in EXECUTORS:
        raise ValidationError(f"executor {executor!r:.40} is not one of {', '.join(EXECUTORS)}")


def _used(model: ServedModel) -> list[str]:
    return [c["name"] for c in model.signature["inputs"] if c.get("used", True)]


def _kept_columns(
    model: ServedModel, data: BatchInput, id_column: str | None, include_inputs: bool
) -> list[str]:
    """The input columns copied to the output; checks every column the run needs."""
    names = data.schema.names
    missing = [name for name in _used(model) if name not in names]
    if missing:
        raise SignatureError(
            f"{data.location} lacks column(s) {', '.join(map(repr, missing))} that "
            f"{model.ref} uses; its columns: {', '.join(names) or 'none'}",
            missing=missing,
            extra=[],
            conflicts={},
        )
    if include_inputs:
        keep = list(names)
    elif id_column is not None:
        if id_column not in names:
            raise ValidationError(
                f"id column {id_column!r} is not in {data.location}; its columns: "
                f"{', '.join(names)}",
                column=id_column,
            )
        keep = [id_column]
    else:
        keep = []
    clash = sorted(set(keep) & set(output_names(model)))
    if clash:
        raise ValidationError(
            f"input column(s) {', '.join(map(repr, clash))} would collide with the "
            "prediction columns of the output; rename them, or leave out include_inputs",
            columns=clash,
        )
    return keep


def _numbered(
    tables: Iterator[pa.Table], data: BatchInput, columns: list[str]
) -> Iterator[tuple[int, pa.Table]]:
    """``(first row, table)`` pairs; an empty input still gives one (empty) chunk, so
    the output gets its columns."""
    offset = 0
    for table in tables:
        yield offset, table
        offset += table.num_rows
    if offset == 0:
        yield 0, pa.schema([data.schema.field(name) for name in columns]).empty_table()


def _predicted(
    registry: ModelRegistry,
    model: ServedModel,
    keep: list[str],
    chunks: Iterator[tuple[int, pa.Table]],
    executor: str,
    ray_address: str | None,
) -> Generator[pa.Table, None, None]:
    if executor == "ray":
        from modelyard.serving._batch_ray import ray_predict

        package = _package(registry, model)
        yield from ray_predict(package, keep, chunks, address=ray_address)
        return
    predict = ChunkPredictor(model, keep)
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="modelyard-batch") as pool:
        # Reading, converting, ONNX Runtime and writing overlap: the last two release
        # the GIL. At most 2 chunks per thread are in flight, so memory stays bounded.
        pending: deque[Future[pa.Table]] = deque()
        try:
            for offset, table in chunks:
                pending.append(pool.submit(predict, table, offset))
                if len(pending) >= 2 * _THREADS:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _package(registry: ModelRegistry, model: ServedModel) -> ModelPackage:
    """What Ray workers need to rebuild ``model``, read once in the driver."""
    version = registry.get(model.ref)
    if model.format.startswith("onnx"):
        onnx = registry.blobs.get_bytes(version.formats[model.format]["blob"])
        return ModelPackage(version, model.format, model.runtime_note, onnx=onnx)
    native: Any = getattr(model.runtime, "model", None)  # the fitted pipeline, loaded safely
    return ModelPackage(version, model.format, model.runtime_note, native=native)
