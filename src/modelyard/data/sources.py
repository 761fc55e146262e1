"""Where data comes from: files (CSV, Parquet, JSON lines), SQL queries, Redis Streams, frames.

Every source yields Arrow record batches, so a file of any size streams through
in bounded memory. A source is described (``describe()``) on the dataset
version it produced, with any password hidden.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from modelyard.exceptions import NotFoundError, StoreError, ValidationError

__all__ = ["FORMATS", "Source", "SourceOptions", "open_source"]

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_COMPRESSIONS = {".gz", ".bz2", ".zst", ".xz"}
_BATCH_ROWS = 131_072
# Bytes per CSV/JSON block; types are inferred from the first one. Arrow reads up to 32
# blocks ahead, so this also bounds the read-ahead memory (32 x 4 MB).
_CSV_BLOCK = 4 << 20
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source.

    Args:
        format: ``csv``, ``parquet`` or ``jsonl``; guessed from the suffix when None.
        dtypes: Column types that override inference (``{"age": pa.int64()}``).
        on_bad_lines: ``error`` (default: stop, naming file and line) or ``skip``
            (count them; the count is recorded on the version).
        query: The SQL query, for a database URL source.
        delimiter: CSV field delimiter (``\\t`` for a ``.tsv`` file by default).
        batch_rows: Rows per batch for Parquet, SQL and in-memory sources.
        block_size: Bytes per CSV/JSON block; column types are inferred from the first.
    """

    format: str | None = None
    dtypes: Mapping[str, pa.DataType] | None = None
    on_bad_lines: Literal["error", "skip"] = "error"
    query: str | None = None
    delimiter: str | None = None
    batch_rows: int = _BATCH_ROWS
    block_size: int = _CSV_BLOCK


class Source:
    """A stream of record batches plus what it was.

    ``bad_lines`` is final once :meth:`batches` has been consumed.
    """

    def __init__(self, kind: str, location: str, options: SourceOptions) -> None:
        self.kind = kind
        self.location = location
        self.options = options
        self.bad_lines = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the data as record batches (bounded memory)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What this source was, for the version's lineage (no secrets)."""
        doc: dict[str, Any] = {"kind": self.kind, "location": self.location}
        if self.options.query:
            doc["query"] = self.options.query
        if self.options.dtypes:
            doc["dtypes"] = {k: str(v) for k, v in self.options.dtypes.items()}
        if self.options.on_bad_lines != "error":
            doc["on_bad_lines"] = self.options.on_bad_lines
        return doc


def open_source(source: Any, options: SourceOptions | None = None) -> Source:
    """The :class:`Source` for a path, fsspec URL, SQLAlchemy URL, DataFrame or Arrow data.

    Raises:
        ValidationError: Unknown format, a path that is not a regular file, a
            database URL without a query, or a bad option.
        NotFoundError: The file does not exist.
    """
    options = options or SourceOptions()
    if options.on_bad_lines not in ("error", "skip"):
        raise ValidationError(
            f"on_bad_lines={options.on_bad_lines!r} is not valid; use 'error' or 'skip'"
        )
    if options.batch_rows < 1:
        raise ValidationError(f"batch_rows must be at least 1, got {options.batch_rows}")
    if isinstance(source, pd.DataFrame | pa.Table | pa.RecordBatch | pa.RecordBatchReader):
        return _ArrowSource(source, options)
    if not isinstance(source, str | os.PathLike):
        raise ValidationError(
            f"cannot ingest a {type(source).__name__}; give a file path, an fsspec URL, "
            "a database URL with query=..., a pandas DataFrame or an Arrow table"
        )
    text = os.fspath(source)
    if "\0" in text:
        raise ValidationError("the source path contains a NUL character")
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme in _SQL_SCHEMES:
        if not options.query:
            raise ValidationError(
                f"{_hide_password(text)} is a database URL: give the SQL to run with "
                "query='SELECT ...' (--query on the command line)"
            )
        from modelyard.data.sql_source import SqlSource

        return SqlSource(text, options)
    if scheme in ("redis", "rediss"):
        from modelyard.data.redis_source import RedisStreamSource

        return RedisStreamSource(text, options)
    if options.query:
        raise ValidationError("query=... applies only to a database URL source")
    return _file_source(text, options)


def _file_source(text: str, options: SourceOptions) -> Source:
    local = "://" not in text or text.startswith("file://")
    if local:
        path = Path(text.removeprefix("file://")).expanduser().resolve()
        if not path.exists():
            raise NotFoundError(f"no such file: {path}", path=str(path))
        if not path.is_file():
            raise ValidationError(
                f"{path} is not a regular file (a folder, device or pipe cannot be ingested)",
                path=str(path),
            )
        text = str(path)
    fmt = options.format or _guess_format(text)
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return _FileSource(fmt, text, options)


def _guess_format(text: str) -> str:
    suffixes = [s.lower() for s in Path(text.split("?", 1)[0]).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise ValidationError(
        f"cannot tell the format of {text[:200]!r} from its name; pass format= "
        f"(--format) as one of {', '.join(FORMATS)}",
        location=text[:200],
    )


class _FileSource(Source):
    def __init__(self, fmt: str, location: str, options: SourceOptions) -> None:
        super().__init__(fmt, location, options)
        self._first_bad: str | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        with self._open() as handle:
            if self.kind == "csv":
                yield from self._csv(handle)
            elif self.kind == "parquet":
                yield from self._parquet(handle)
            else:
                yield from self._jsonl(handle)

    @contextlib.contextmanager
    def _open(self) -> Iterator[BinaryIO]:
        # Only opening is translated here: errors raised while the caller reads
        # (a malformed row) must reach it unchanged.
        try:
            opened = fsspec.open(self.location, "rb", compression="infer")
            handle = opened.open()
        except FileNotFoundError as exc:
            raise NotFoundError(f"no such file: {self.location}", path=self.location) from exc
        except (OSError, ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot read {self.location}: {exc}; check the path or URL and your access",
                path=self.location,
            ) from exc
        try:
            yield handle
        finally:
            opened.close()

    # -- CSV ----------------------------------------------------------------
    def _csv(self, handle: BinaryIO) -> Iterator[pa.RecordBatch]:
        delimiter = self.options.delimiter or ("\t" if ".tsv" in self.location.lower() else ",")
        parse = pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=self._bad_row)
        convert = pa_csv.ConvertOptions(
            column_types=dict(self.options.dtypes or {}), strings_can_be_null=True
        )
        try:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(block_size=self.options.block_size),
                parse_options=parse,
                convert_options=convert,
            )
            check_dtype_columns(self.options.dtypes, reader.schema.names, self.location)
            yield from reader
        except pa.ArrowInvalid as exc:
            raise self._csv_error(exc) from None

    def _bad_row(self, row: Any) -> str:
        if self.options.on_bad_lines == "skip":
            self.bad_lines += 1
            return "skip"
        self._first_bad = row.text
        return "error"

    def _csv_error(self, exc: pa.ArrowInvalid) -> ValidationError:
        message = str(exc)
        if message.startswith("Empty CSV file"):
            return ValidationError(f"{self.location} is empty: no header, no rows")
        if self._first_bad is not None:
            line = self._find_line(self._first_bad)
            where = f"line {line}" if line else "a line"
            return ValidationError(
                f"{self.location}, {where}: malformed CSV row ({message}); fix the row, or "
                "pass on_bad_lines='skip' (--on-bad-lines skip) to skip such rows and "
                "record how many were skipped",
                path=self.location,
                line=line,
            )
        if "conversion error" in message:
            return ValidationError(
                f"{self.location}: a column holds values of mixed types ({message}); "
                "declare its type, e.g. dtypes={'col': 'string'} (--schema col=string)",
                path=self.location,
            )
        return ValidationError(f"{self.location}: cannot parse as CSV: {message}")

    def _find_line(self, text: str) -> int | None:
        """The 1-based line of the first row equal to ``text`` (error path only)."""
        with self._open() as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.rstrip(b"\r\n").decode("utf-8", "replace") == text:
                    return number
        return None

    # -- Parquet / JSON lines -------------------------------------------------
    def _parquet(self, handle: BinaryIO) -> Iterator[pa.RecordBatch]:
        try:
            parquet = pq.ParquetFile(handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValidationError(
                f"{self.location} is not a readable Parquet file: {exc}"
            ) from None
        check_dtype_columns(self.options.dtypes, parquet.schema_arrow.names, self.location)
        target = _override(parquet.schema_arrow, self.options.dtypes)
        for batch in parquet.iter_batches(batch_size=self.options.batch_rows):
            yield cast_batch(batch, target, self.location)

    def _jsonl(self, handle: BinaryIO) -> Iterator[pa.RecordBatch]:
        explicit = pa.schema(list((self.options.dtypes or {}).items()))
        parse = pa_json.ParseOptions(explicit_schema=explicit or None)
        try:
            reader = pa_json.open_json(
                handle,
                read_options=pa_json.ReadOptions(block_size=self.options.block_size),
                parse_options=parse,
            )
            yield from reader
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "Empty JSON file" in message or "empty" in message.lower():
                raise ValidationError(f"{self.location} is empty: no JSON lines") from None
            raise ValidationError(
                f"{self.location}: not valid JSON lines ({message}); each line must be one "
                "JSON object; for mixed types declare the column type with dtypes= (--schema)",
                path=self.location,
            ) from None


class _ArrowSource(Source):
    def __init__(self, data: Any, options: SourceOptions) -> None:
        super().__init__(
            "dataframe" if isinstance(data, pd.DataFrame) else "arrow", "memory", options
        )
        self._data = data

    def batches(self) -> Iterator[pa.RecordBatch]:
        data = self._data
        if isinstance(data, pd.DataFrame):
            try:
                data = pa.Table.from_pandas(data, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValidationError(
                    f"the DataFrame has a column of mixed types ({exc}); convert it "
                    "(df[col].astype(str)) or pass dtypes="
                ) from None
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        names = data.schema.names
        check_dtype_columns(self.options.dtypes, names, "the data")
        target = _override(data.schema, self.options.dtypes)
        batches = (
            data.to_batches(max_chunksize=self.options.batch_rows)
            if isinstance(data, pa.Table)
            else data
        )
        for batch in batches:
            yield cast_batch(batch, target, "the data")


def check_dtype_columns(
    dtypes: Mapping[str, pa.DataType] | None, names: list[str], where: str
) -> None:
    """Refuse a type override for a column the data does not have."""
    unknown = sorted(set(dtypes or {}) - set(names))
    if unknown:
        raise ValidationError(
            f"type override for unknown column(s) {', '.join(map(repr, unknown))} in {where}; "
            f"available columns: {', '.join(names)}",
            columns=unknown,
        )


def _override(schema: pa.Schema, dtypes: Mapping[str, pa.DataType] | None) -> pa.Schema:
    for name, dtype in (dtypes or {}).items():
        schema = schema.set(schema.get_field_index(name), pa.field(name, dtype))
    return schema


def cast_batch(batch: pa.RecordBatch, schema: pa.Schema, where: str) -> pa.RecordBatch:
    """``batch`` cast to ``schema``, with an error naming the column that would not cast."""
    if batch.schema.equals(schema):
        return batch
    columns = []
    for field in schema:
        column = batch.column(field.name) if field.name in batch.schema.names else None
        if column is None:
            columns.append(pa.nulls(batch.num_rows, field.type))
            continue
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValidationError(
                f"column {field.name!r} of {where} cannot be read as {field.type}: {exc}; "
                f"declare another type for it (dtypes={{'{field.name}': 'string'}})",
                column=field.name,
            ) from None
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]
