"""Batch inference input and output: chunked readers and an all-or-nothing writer.

Inputs are read as Arrow record batches, never whole: a Parquet file (local or any
fsspec URL) through ``ParquetFile.iter_batches``, a CSV file through pyarrow's streaming
CSV reader (only the columns needed, the model's columns typed from its signature so a
sparse column cannot change type half-way), or a dataset version through
``Dataset.scan``. :func:`rechunk` turns whatever batch sizes come out into chunks of a
fixed number of rows.

The output is written to a temporary file next to the target (or, for a remote URL,
a local temporary file uploaded at the end) and renamed over it only once every chunk
is written, so a failure never leaves half an output or spoils an existing one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modelyard.data import DataClient, parse_ref
from modelyard.exceptions import NotFoundError, StoreError, ValidationError

__all__ = [
    "BatchInput",
    "OutputWriter",
    "csv_types",
    "open_input",
    "output_format",
    "rechunk",
]

INPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_COMPRESSIONS = {".gz", ".bz2", ".zst", ".xz"}
_CSV_BLOCK = 4 << 20  # bytes per CSV block: Arrow reads a few ahead, so this bounds memory
_KIND_TYPES = {"categorical": pa.string(), "datetime": pa.string(), "boolean": pa.bool_()}


@dataclass
class BatchInput:
    """Where batch inference reads rows: the columns there are, and a chunked reader.

    Attributes:
        kind: ``parquet``, ``csv`` or ``dataset``.
        location: The path, URL or dataset reference (for messages).
        schema: The columns (CSV: as the first block reads them).
        total_rows: How many rows there are, when known without reading them.
    """

    kind: str
    location: str
    schema: pa.Schema
    total_rows: int | None
    _dataset: Any = field(default=None, repr=False)

    def batches(
        self, columns: list[str], types: dict[str, pa.DataType], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """Stream ``columns`` (CSV: parsed as ``types``) in batches of about ``batch_rows``."""
        if self.kind == "dataset":
            yield from self._dataset.scan(columns=columns, batch_rows=batch_rows)
        elif self.kind == "parquet":
            with _opened(self.location) as handle:
                parquet = _parquet_file(handle, self.location)
                yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)
        else:
            with _opened(self.location, compression="infer") as handle:
                reader = _csv_reader(handle, self.location, columns, types)
                try:
                    yield from reader
                except pa.ArrowInvalid as exc:
                    raise _csv_error(self.location, exc) from None


def open_input(source: str, data_client: DataClient | None) -> BatchInput:
    """The input ``source`` names: a Parquet or CSV path / fsspec URL, or ``NAME@V``.

    Raises:
        NotFoundError: No such file or dataset version.
        ValidationError: An unknown file format, or a file that is not Parquet / CSV.
        StoreError: The file cannot be opened (permissions, network).
    """
    if not isinstance(source, str) or not source or "\0" in source:
        raise ValidationError(f"the input must be a file path, URL or NAME@VERSION, got {source!r}")
    local = "://" not in source or source.startswith("file://")
    path = Path(source.removeprefix("file://")).expanduser()
    fmt = _input_format(source)
    if fmt is None and local and not path.exists():
        return _dataset_input(source, data_client)
    if local:
        if not path.is_file():
            raise NotFoundError(f"no such input file: {path}", path=str(path))
        source = str(path.resolve())
    if fmt is None:
        raise ValidationError(
            f"cannot tell the format of {source[:200]!r} from its name; name a .parquet or "
            ".csv file (optionally compressed: .csv.gz), or a dataset as NAME@VERSION"
        )
    with _opened(source, compression="infer" if fmt == "csv" else None) as handle:
        if fmt == "parquet":
            parquet = _parquet_file(handle, source)
            return BatchInput(fmt, source, parquet.schema_arrow, parquet.metadata.num_rows)
        reader = _csv_reader(handle, source, None, {})
        return BatchInput(fmt, source, reader.schema, None)


def _dataset_input(source: str, data_client: DataClient | None) -> BatchInput:
    try:
        parse_ref(source)
    except ValidationError:
        raise NotFoundError(
            f"no such input file {source!r}, and it is not a dataset reference either; give "
            "a .parquet or .csv path, an fsspec URL, or a dataset as NAME@VERSION",
            path=source,
        ) from None
    if data_client is None:
        raise ValidationError(f"{source!r} names a dataset: pass data_client= to read it")
    try:
        dataset = data_client.get(source)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no such input file {source!r}, nor a dataset version of that name ({exc}); give "
            "a .parquet or .csv path, an fsspec URL, or a dataset as NAME@VERSION",
            path=source,
        ) from None
    return BatchInput("dataset", dataset.ref, dataset.schema, dataset.num_rows, dataset)


def _input_format(source: str) -> str | None:
    suffixes = [s.lower() for s in Path(source.split("?", 1)[0]).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    return INPUT_FORMATS.get(suffixes[-1]) if suffixes else None


@contextlib.contextmanager
def _opened(location: str, compression: str | None = None) -> Iterator[BinaryIO]:
    """``location`` open for reading; only the opening is translated into our errors."""
    try:
        opened = fsspec.open(location, "rb", compression=compression)
        handle = opened.open()
    except FileNotFoundError as exc:
        raise NotFoundError(f"no such input file: {location}", path=location) from exc
    except (OSError, ImportError, ValueError) as exc:
        raise StoreError(
            f"cannot read {location}: {exc}; check the path or URL and your access",
            path=location,
        ) from exc
    try:
        yield handle
    finally:
        opened.close()


def _parquet_file(handle: BinaryIO, location: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(handle)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"{location} is not a readable Parquet file: {exc}") from None


def _csv_reader(
    handle: BinaryIO, location: str, columns: list[str] | None, types: dict[str, pa.DataType]
) -> pa_csv.CSVStreamingReader:
    delimiter = "\t" if ".tsv" in location.lower() else ","
    convert = pa_csv.ConvertOptions(
        column_types=types, include_columns=columns, strings_can_be_null=True
    )
    try:
        return pa_csv.open_csv(
            handle,
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        raise _csv_error(location, exc) from None


def _csv_error(location: str, exc: pa.ArrowInvalid) -> ValidationError:
    message = str(exc)
    if message.startswith("Empty CSV file"):
        return ValidationError(f"{location} is empty: no header, no rows", path=location)
    return ValidationError(
        f"{location}: cannot read as CSV: {message}; fix the file (one header line, then "
        "one row per line with as many fields) and run again",
        path=location,
    )


def csv_types(signature: dict[str, Any], keep: list[str]) -> dict[str, pa.DataType]:
    """How to parse a CSV's columns: the model's by kind, kept id columns as text."""
    types = {name: pa.string() for name in keep}
    for column in signature["inputs"]:
        if column.get("used", True):
            types[column["name"]] = _KIND_TYPES.get(column.get("kind", ""), pa.float64())
    return types


def rechunk(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The rows of ``batches`` in tables of exactly ``rows`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            batch = batch.slice(take)
            count += take
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


def output_format(output: str) -> str:
    """``parquet`` or ``csv``, from the output's suffix.

    Raises:
        ValidationError: Another suffix.
    """
    suffix = Path(output.split("?", 1)[0]).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValidationError(
            f"cannot tell the output format of {output[:200]!r}: name it .parquet (or .pq) or .csv"
        )
    return OUTPUT_FORMATS[suffix]


class OutputWriter:
    """Writes tables to a temporary file; :meth:`commit` moves it to ``output``.

    A local output is renamed over atomically (the temporary file sits in the same
    folder); a remote one is uploaded in one piece. Without :meth:`commit`,
    :meth:`abort` removes the temporary file and ``output`` is left as it was.
    """

    def __init__(self, output: str) -> None:
        if not isinstance(output, str) or not output or "\0" in output:
            raise ValidationError(f"the output must be a file path or URL, got {output!r}")
        self.format = output_format(output)
        self.remote = "://" in output and not output.startswith("file://")
        if self.remote:
            self.target = output
            handle, temp = tempfile.mkstemp(suffix=f".{self.format}", prefix="modelyard-")
            os.close(handle)
            self._temp = Path(temp)
        else:
            path = Path(output.removeprefix("file://")).expanduser().resolve()
            if path.is_dir():
                raise ValidationError(f"the output {path} is a folder; name a file in it")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.target = str(path)
            self._temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (every table must have the first one's schema)."""
        if self._writer is None:
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._temp, table.schema)
            else:
                self._writer = pa_csv.CSVWriter(self._temp, table.schema)
        self._writer.write_table(table)

    def commit(self) -> str:
        """Close the file and move it into place; returns where it went.

        Raises:
            StoreError: The rename or upload failed (the temporary file is removed).
        """
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        try:
            if self.remote:
                fs, path = fsspec.core.url_to_fs(self.target)
                fs.put_file(str(self._temp), path)
            else:
                os.replace(self._temp, self.target)
        except (OSError, ValueError, ImportError) as exc:
            raise StoreError(f"cannot write the output {self.target}: {exc}") from exc
        finally:
            self._temp.unlink(missing_ok=True)
        return self.target

    def abort(self) -> None:
        """Drop what was written; the output is left untouched."""
        with contextlib.suppress(Exception):  # already failing: the first error matters
            if self._writer is not None:
                self._writer.close()
        self._writer = None
        self._temp.unlink(missing_ok=True)
