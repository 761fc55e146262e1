"""The prediction log and the feedback log: what monitoring reads.

Every served prediction row becomes one log row (the request id repeats over the rows
of one request); feedback attaches ground-truth labels to request ids later. Both logs
share one mechanism (``_parquet_sink.ParquetSink``; this module builds the tables):

- ``record(...)`` is the hot path: synchronous, O(1), never blocks on I/O and never
  raises. It appends to an in-memory buffer bounded in rows; when the buffer is full
  the rows are dropped and counted (``dropped``): bounded memory beats blocking.
- A background thread (not the event loop) drains the buffer every
  ``flush_interval_s`` and appends the rows with pyarrow to an open Parquet file kept
  under a hidden temp name (``.<name>.parquet.tmp``). A file is published by an
  atomic rename when it holds ``max_rows_per_file`` rows or is ``max_file_age_s``
  old, and on ``close()``. Readers (``*.parquet`` globs, pyarrow datasets, DuckDB)
  therefore never see a half-written file; a crash loses the unpublished rows and
  leaves only temp files behind (they are never deleted automatically: another
  worker of the same server may still own them).

Layout::

    <predictions dir>/<model name>/predictions-<utc stamp>-<pid>-<seq>.parquet
    <feedback dir>/feedback-<utc stamp>-<pid>-<seq>.parquet

Prediction columns: ``request_id``, ``row`` (index within the request), ``timestamp``
(UTC, ms), ``model``, ``version``, ``latency_ms``, one ``in.<name>`` per model input
(float64 / string / timestamp[ns, UTC]; missing values are null, and the ONNX
``EMPTY_LEVEL`` stand-in is stored as the real empty string), then ``out.label``
(typed like the classes) and ``out.prob.<class>`` (float64) for classifiers or
``out.value`` (float64) for regressors. Rows whose columns differ (two versions of a
model with different inputs) go to different files of the model's folder.

Feedback columns: ``request_id``, ``row``, ``timestamp``, ``label`` (the label as
text) and ``value`` (the label as a number when it is one, else null).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from modelyard.exceptions import ValidationError
from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving._blocks import BlockFeeds
from modelyard.serving._parquet_sink import ParquetSink, check_writable

if TYPE_CHECKING:
    from modelyard.serving.runtime import Prediction

__all__ = ["FeedbackLog", "LogEntry", "PredictionLog"]

_log = logging.getLogger(__name__)
_INT64_MIN = np.iinfo(np.int64).min
_UTC_MS = pa.timestamp("ms", tz="UTC")
_UTC_NS = pa.timestamp("ns", tz="UTC")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One served request (or one model call's batch of requests), as the log stores it.

    The arrays are kept by reference until the background thread writes them: the
    caller must not modify them after :meth:`PredictionLog.record`.

    Attributes:
        request_id: The request id (repeated on every row of the request).
        timestamp_ms: When the request arrived, milliseconds since the epoch (UTC).
        model: Registered model name (also the folder name).
        version: Model version that answered.
        latency_ms: Server-side latency of the request.
        inputs: The request's ONNX-convention feeds (``name -> [N, 1]`` array).
        prediction: The model's answer for those N rows.
        classes: Class labels in code order (classifiers), else None.
        parts: For a batch of several requests answered by one model call: per request,
            in row order, ``(request_id, timestamp_ms, latency_ms, rows)``; the rows
            add up to N and the single-request fields above are ignored. Empty (the
            default): all N rows belong to ``request_id``.
    """

    request_id: str
    timestamp_ms: int
    model: str
    version: int
    latency_ms: float
    inputs: Mapping[str, np.ndarray]
    prediction: Prediction
    classes: Sequence[Any] | None = None
    parts: tuple[tuple[str, int, float, int], ...] = ()

    def requests(self) -> list[tuple[str, int, float, int]]:
        """``(request_id, timestamp_ms, latency_ms, rows)`` of each request in the entry."""
        if self.parts:
            return list(self.parts)
        rows = self.prediction.rows
        return [(self.request_id, self.timestamp_ms, self.latency_ms, rows)]


def _text(values: np.ndarray) -> pa.Array:
    """Text as Arrow strings; a value that is not valid UTF-8 is repaired, never fatal."""
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError):
        cleaned = [
            None if v is None else str(v).encode("utf-8", "replace").decode("utf-8")
            for v in values.tolist()
        ]
        return pa.array(cleaned, type=pa.string())


def _kind(values: np.ndarray) -> str:
    """The log type of an ONNX-convention input array."""
    kind = values.dtype.kind
    if kind == "f":
        return "float"
    if kind == "b":
        return "bool"
    if kind in "iuM":  # int64 inputs are datetimes by the ONNX convention
        return "timestamp"
    return "text"


def _input_column(values: np.ndarray) -> pa.Array:
    kind = _kind(values)
    if kind == "float":
        return pa.array(values.astype(np.float64, copy=False), from_pandas=True)
    if kind == "bool":
        return pa.array(values)
    if kind == "timestamp":
        if values.dtype.kind == "M":
            values = values.astype("datetime64[ns]").view(np.int64)
        nanos = values.astype(np.int64, copy=False)
        return pa.array(nanos, type=_UTC_NS, mask=nanos == _INT64_MIN)
    text = values.astype(object)  # a copy: the caller's array stays untouched
    missing = text == ""
    text[text == EMPTY_LEVEL] = ""
    text[missing] = None
    return _text(text)


def _label_type(classes: Sequence[Any]) -> pa.DataType:
    if all(isinstance(c, bool | np.bool_) for c in classes):
        return pa.bool_()
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in classes):
        return pa.int64()
    if all(isinstance(c, float | int | np.floating | np.integer) for c in classes):
        return pa.float64()
    return pa.string()


def _class_names(classes: Sequence[Any] | None, count: int) -> list[str]:
    names = [str(c) for c in classes] if classes is not None else [str(j) for j in range(count)]
    seen: set[str] = set()
    for j, name in enumerate(names):  # two classes that print alike get distinct columns
        if name in seen:
            names[j] = f"{name}#{j}"
        seen.add(names[j])
    return names


def _flat(array: np.ndarray | None, what: str) -> np.ndarray:
    if array is None:
        raise ValueError(f"{what} is missing in some entries of one group")
    return np.asarray(array).reshape(len(array), -1)


def _entry_key(entry: LogEntry) -> tuple[Any, ...]:
    """The group (and so the schema) of an entry; raises ValueError when it is malformed."""
    pred, n = entry.prediction, entry.prediction.rows
    if entry.parts and sum(map(itemgetter(3), entry.parts)) != n:
        raise ValueError(f"the parts' rows do not add up to the {n} predictions")
    inputs: tuple[Any, ...]
    if isinstance(entry.inputs, BlockFeeds):  # built by the server: checked per block
        if entry.inputs.rows != n:
            raise ValueError(f"the inputs have {entry.inputs.rows} rows for {n} predictions")
        inputs = ("blocks", entry.inputs.layout)
    else:
        found = []
        for name, array in entry.inputs.items():
            values = np.asarray(array)
            if values.size != n:
                raise ValueError(f"input {name!r} has {values.size} values for {n} predictions")
            found.append((name, _kind(values)))
        inputs = tuple(found)
    k = len(entry.classes) if entry.classes is not None else None
    if (
        pred.codes is not None
        and k is not None
        and n
        and not 0 <= pred.codes.min() <= pred.codes.max() < k
    ):
        raise ValueError(f"class codes outside 0..{k - 1}")
    probs = (
        None
        if pred.probabilities is None
        else np.asarray(pred.probabilities).reshape(n, -1).shape[1]
    )
    if probs is not None and k is not None and probs != k:
        raise ValueError(f"{probs} probabilities per row for {k} classes")
    if pred.values is not None and np.asarray(pred.values).size != n:
        raise ValueError(f"{np.asarray(pred.values).size} values for {n} predictions")
    classes = None if entry.classes is None else tuple(entry.classes)
    return (
        entry.model,
        inputs,
        classes,
        pred.codes is not None,
        probs,
        pred.values is not None,
    )


def _output_columns(entries: list[LogEntry]) -> dict[str, pa.Array]:
    first, classes = entries[0].prediction, entries[0].classes
    columns: dict[str, pa.Array] = {}
    if first.codes is not None:
        codes = np.concatenate([_flat(e.prediction.codes, "codes") for e in entries]).reshape(-1)
        if classes is None:
            columns["out.label"] = pa.array(codes.astype(np.int64))
        else:
            labels = np.array(list(classes), dtype=object)[codes]
            kind = _label_type(classes)
            columns["out.label"] = (
                _text(labels) if kind == pa.string() else pa.array(labels, type=kind)
            )
    if first.probabilities is not None:
        probs = np.concatenate(
            [_flat(e.prediction.probabilities, "probabilities") for e in entries]
        )
        for j, name in enumerate(_class_names(classes, probs.shape[1])):
            columns[f"out.prob.{name}"] = pa.array(probs[:, j].astype(np.float64))
    if first.values is not None:
        values = np.concatenate([_flat(e.prediction.values, "values") for e in entries]).reshape(-1)
        columns["out.value"] = pa.array(values.astype(np.float64), from_pandas=True)
    return columns


def _prediction_table(entries: list[LogEntry]) -> pa.Table:
    """One table from entries of one group (same model, inputs and outputs)."""
    requests = [part for e in entries for part in e.requests()]  # (id, ts, ms, rows)
    counts = np.fromiter(map(itemgetter(3), requests), dtype=np.int64, count=len(requests))
    n = int(counts.sum())
    one_each = n == len(requests)  # one row per request (the usual case): no repeats

    def per_row(index: int, dtype: Any) -> np.ndarray:
        values = np.array(list(map(itemgetter(index), requests)), dtype=dtype)
        return values if one_each else np.repeat(values, counts)

    if one_each:
        row = np.zeros(n, dtype=np.int32)
    else:
        row = (np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32)
    versions = np.repeat(
        np.array([e.version for e in entries], dtype=np.int64),
        [e.prediction.rows for e in entries],
    )
    columns: dict[str, pa.Array] = {
        "request_id": _text(per_row(0, object)),
        "row": pa.array(row),
        "timestamp": pa.array(per_row(1, np.int64), type=_UTC_MS),
        "model": pa.repeat(pa.scalar(entries[0].model, type=pa.string()), n),
        "version": pa.array(versions),
        "latency_ms": pa.array(per_row(2, np.float64)),
    }
    columns.update(_input_columns(entries))
    columns.update(_output_columns(entries))
    return pa.table(columns)


def _input_columns(entries: list[LogEntry]) -> dict[str, pa.Array]:
    """The ``in.*`` columns, in feed order; entries of one group share their layout."""
    first = entries[0].inputs
    if not isinstance(first, BlockFeeds):
        return {
            f"in.{name}": _input_column(
                np.concatenate([np.asarray(e.inputs[name]).reshape(-1) for e in entries])
            )
            for name in first
        }
    # One concatenation per block for the whole group, however many requests it holds;
    # its column views come in feed order.
    blocks = [e.inputs.blocks for e in entries if isinstance(e.inputs, BlockFeeds)]
    joined = BlockFeeds(
        first.layout, [np.concatenate(parts, axis=1) for parts in zip(*blocks, strict=True)]
    )
    return {f"in.{name}": _input_column(view.reshape(-1)) for name, view in joined.items()}


def _folder_name(model: str) -> str:
    """A model name as one safe path component (no separators, no hidden or parent dirs)."""
    name = quote(model, safe="-_.")
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name or "%00"


class _LogBase:
    """What both logs share: the writer, its counters, ``close()``, ``with``."""

    _prefix: str

    def __init__(
        self,
        directory: Path,
        *,
        max_rows_per_file: int = 100_000,
        max_file_age_s: float = 300.0,
        max_buffer_rows: int = 50_000,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.directory = check_writable(Path(directory))
        self._sink: ParquetSink[Any] = ParquetSink(
            self._prefix,
            self._tables,
            max_rows_per_file=max_rows_per_file,
            max_file_age_s=max_file_age_s,
            max_buffer_rows=max_buffer_rows,
            flush_interval_s=flush_interval_s,
        )

    def _tables(self, items: list[tuple[Any, int]]) -> list[tuple[Path, pa.Table]]:
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        """Rows refused by ``record`` (buffer full, log closed, malformed entry)."""
        return self._sink.dropped

    @property
    def failed(self) -> int:
        """Rows accepted but lost by the writer (malformed values, I/O errors)."""
        return self._sink.failed

    @property
    def written(self) -> int:
        """Rows in published Parquet files."""
        return self._sink.written

    @property
    def buffered_rows(self) -> int:
        """Rows waiting in memory for the writer thread (at most ``max_buffer_rows``)."""
        return self._sink.buffered_rows

    def close(self) -> None:
        """Write everything buffered, publish every open file, stop the thread (idempotent)."""
        self._sink.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class PredictionLog(_LogBase):
    """Served predictions, written asynchronously to rotated Parquet files per model.

    Args:
        directory: Root folder; files go to ``directory/<model name>/``. Created if
            needed; it must be writable (checked here, never on the hot path).
        max_rows_per_file: Publish a file once it holds this many rows (default 100,000).
        max_file_age_s: Publish a file this many seconds after it was opened (300).
        max_buffer_rows: Rows kept in memory at most; beyond that ``record`` drops (50,000).
        flush_interval_s: How often the writer thread drains the buffer (1.0).

    Raises:
        ConfigError: ``directory`` cannot be created or written.
        ValidationError: A limit is not positive.

    Example::

        log = PredictionLog(Path("/var/lib/modelyard/predictions"))
        log.record(LogEntry("req-1", now_ms, "churn", 3, 1.2, feeds, prediction, ["no", "yes"]))
        log.close()  # at server shutdown: unpublished rows are lost without it
    """

    _prefix = "predictions"

    def record(self, entry: LogEntry) -> None:
        """Queue one request's rows for writing; O(1), never blocks, never raises.

        The rows are dropped (and counted in :attr:`dropped`) when the buffer is full
        or the log is closed.
        """
        try:
            rows = int(entry.prediction.rows)
        except Exception:  # noqa: BLE001 - a malformed entry must not fail its request
            self._sink.drop(1)
            return
        if rows > 0:
            self._sink.put(entry, rows)

    def _tables(self, items: list[tuple[LogEntry, int]]) -> list[tuple[Path, pa.Table]]:
        groups: dict[tuple[Any, ...], list[LogEntry]] = {}
        for entry, _ in items:
            try:
                groups.setdefault(_entry_key(entry), []).append(entry)
            except Exception as exc:  # noqa: BLE001 - skipped here, counted by the sink
                _log.warning("prediction log: skipping request %r: %s", entry.request_id, exc)
        tables = []
        for key, entries in groups.items():
            try:
                tables.append((self.directory / _folder_name(key[0]), _prediction_table(entries)))
            except Exception:  # noqa: BLE001 - one bad group must not lose the others
                _log.exception("prediction log: could not convert %d entries", len(entries))
        return tables


class FeedbackLog(_LogBase):
    """Ground-truth labels for earlier requests, written like :class:`PredictionLog`.

    Files are ``directory/feedback-*.parquet``; give it a folder of its own (not the
    prediction log's root, whose folders are model names). Arguments and errors are
    those of :class:`PredictionLog`.
    """

    _prefix = "feedback"

    def record(
        self, request_id: str, label: Any, timestamp_ms: int | None = None, *, row: int = 0
    ) -> None:
        """Queue the true label of row ``row`` of request ``request_id``; never blocks.

        Args:
            request_id: The id the prediction was logged under.
            label: The true label: text, a number, a bool or None. Stored as text and,
                when it is a number or a bool, also as ``value``.
            timestamp_ms: When the truth became known (default: now), ms since the epoch.
            row: Which row of a multi-row request the label belongs to.

        Raises:
            ValidationError: An argument has the wrong type or is out of range (the
                caller's input: the server answers 400). A full buffer drops, it
                does not raise.
        """
        when = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        problems = [
            f"{name}={value!r} must be {what}"
            for name, value, what, good in [
                ("request_id", request_id, "text", isinstance(request_id, str)),
                ("label", label, "text, a number, a bool or null", isinstance(label, _LABEL)),
                ("timestamp_ms", when, "an integer", _is_int(when)),
                ("row", row, "an integer in 0..2**31-1", _is_int(row) and 0 <= row < 2**31),
            ]
            if not good
        ]
        if problems:
            raise ValidationError(f"bad feedback: {'; '.join(problems)}", request_id=request_id)
        self._sink.put((request_id, row, when, label), 1)

    def _tables(
        self, items: list[tuple[tuple[str, int, int, Any], int]]
    ) -> list[tuple[Path, pa.Table]]:
        ids, rows, stamps, labels = zip(*(item for item, _ in items), strict=True)
        numeric = [float(v) if isinstance(v, _NUMBER) else None for v in labels]
        text = np.array([None if v is None else str(v) for v in labels], dtype=object)
        table = pa.table(
            {
                "request_id": _text(np.array(ids, dtype=object)),
                "row": pa.array(np.array(rows, dtype=np.int32)),
                "timestamp": pa.array(np.array(stamps, dtype=np.int64), type=_UTC_MS),
                "label": _text(text),
                "value": pa.array(numeric, type=pa.float64()),
            }
        )
        return [(self.directory, table)]


_NUMBER = (int, float, np.integer, np.floating)  # bool is an int: True -> 1.0
_LABEL = (str, type(None), *_NUMBER)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
