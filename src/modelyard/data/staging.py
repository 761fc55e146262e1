"""Staging: the one streaming pass from a source to a local Parquet file plus its profile.

Batches are masked, cast, written and profiled as they arrive, so memory holds
a few batches whatever the input size. Nothing here touches the artifact store
or the database: a staged file becomes a version only when it is committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.data._pipeline import ParquetSink, read_ahead
from modelyard.data.masking import Masker
from modelyard.data.profile import ProfileBuilder
from modelyard.data.sources import cast_batch
from modelyard.exceptions import ValidationError

__all__ = ["Staged", "content_hash", "restage", "stage_batches"]

# Rows per Parquet row group: large enough for good encoding, small enough that the
# writer's queue stays within the memory budget (~40 MB per group of a wide table).
_ROW_GROUP_ROWS = 256 * 1024


@dataclass
class Staged:
    """A staged Parquet file: its schema, row count and the profile of its rows."""

    path: Path
    schema: pa.Schema
    num_rows: int
    profile: ProfileBuilder


def stage_batches(
    batches: Iterable[pa.RecordBatch],
    path: Path,
    *,
    masker: Masker | None = None,
    schema: pa.Schema | None = None,
    where: str = "the data",
    on_rows: Callable[[int], None] | None = None,
) -> Staged:
    """Mask, cast, write and profile ``batches`` into the Parquet file ``path``.

    Args:
        batches: The source's record batches.
        path: Where to write (the caller owns and removes the folder).
        masker: PII masking applied before anything is written.
        schema: The schema every batch is cast to (an append's parent schema);
            None takes the first batch's.
        where: How to name the data in errors.
        on_rows: Called with the row count of each batch written (progress).

    Raises:
        ValidationError: The source holds no rows, a batch does not fit the
            schema, or masking refused a column.
    """
    sink: ParquetSink | None = None
    builder: ProfileBuilder | None = None
    rows = 0
    try:
        for raw in read_ahead(batches):
            if masker is not None:
                if sink is None:
                    masker.check(raw.schema)
                raw = masker.apply(raw)
            if sink is None:
                schema = _plain(schema or raw.schema)
                sink = ParquetSink(path, schema, _ROW_GROUP_ROWS)
                builder = ProfileBuilder(schema)
            assert schema is not None
            assert builder is not None
            batch = cast_batch(raw, schema, where)
            if batch.num_rows == 0:
                continue
            sink.write(batch)
            builder.update(batch)
            rows += batch.num_rows
            if on_rows is not None:
                on_rows(batch.num_rows)
    except BaseException:
        if sink is not None:
            sink.close(discard=True)
        raise
    if sink is not None:
        sink.close()
    if sink is None or builder is None or schema is None or rows == 0:
        raise ValidationError(f"{where} holds no rows; nothing to ingest")
    return Staged(path, schema, rows, builder)


def restage(source: Path, path: Path, schema: pa.Schema) -> Staged:
    """Stage a Parquet file another writer made (DuckDB's quarantine split) in our layout.

    Its rows are cast to ``schema`` (DuckDB writes ``large_string`` where the
    dataset has ``string``), written in our row groups and profiled, so every
    part of a dataset has one schema and one profile format.
    """
    batches = pq.ParquetFile(source).iter_batches(batch_size=_ROW_GROUP_ROWS // 2)
    return stage_batches(batches, path, schema=schema, where=str(source))


def content_hash(part_hashes: Iterable[str]) -> str:
    """A version's identity: SHA-256 over its parts' hashes, in order."""
    digest = hashlib.sha256()
    for sha in part_hashes:
        digest.update(sha.encode("ascii") + b"\n")
    return digest.hexdigest()


def _plain(schema: pa.Schema) -> pa.Schema:
    """The schema without pandas metadata (which would make equal data hash differently)."""
    return schema.remove_metadata()
