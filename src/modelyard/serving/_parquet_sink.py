"""A bounded in-memory buffer drained by a thread into rotated, atomically published Parquet files.

This is the writer behind :mod:`modelyard.serving.prediction_log`; it knows nothing
about predictions. The owner hands :class:`ParquetSink` opaque items with their row
counts (``put``, O(1), never blocks on I/O, drops and counts when the buffer is full)
and a conversion function that turns a drained batch of items into
``(folder, table)`` pairs. A background thread calls it every ``flush_interval_s``
and appends each table to an :class:`OpenFile` of that folder and schema:

- a file is written under a hidden temp name (``.<name>.parquet.tmp``) and published
  by fsync + atomic rename once it holds ``max_rows_per_file`` rows, is
  ``max_file_age_s`` old, or the sink closes, so readers of ``*.parquet`` never see a
  half-written file;
- a failure (a conversion bug, a full disk) loses rows, counted in ``failed``, and
  never stops the thread or reaches the caller.

File names are ``<prefix>-<utc stamp>-<pid>-<seq>.parquet``; the sequence is shared
by every sink of the process, so two sinks writing to one folder never collide.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.exceptions import ConfigError, ValidationError

__all__ = ["OpenFile", "ParquetSink", "check_writable"]

# The records keep the logger name they had before this module was split out of
# prediction_log, so logging configuration aimed at the prediction log still applies.
_log = logging.getLogger("modelyard.serving.prediction_log")
_SEQUENCE = itertools.count()  # shared by every sink of this process: unique file names
Item = TypeVar("Item")


class OpenFile:
    """One Parquet file being written under a hidden temp name, published by rename.

    Args:
        folder: Where the file goes (created if needed).
        prefix: First part of the file name (``predictions``, ``feedback``).
        schema: The Arrow schema of every table written to it.

    Attributes:
        final: The published path (``<folder>/<prefix>-<stamp>-<pid>-<seq>.parquet``).
        temp: The hidden path written until :meth:`publish`.
        rows: Rows written so far.
        opened: ``time.monotonic()`` when the file was opened (for age-based rotation).
    """

    def __init__(self, folder: Path, prefix: str, schema: pa.Schema) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{prefix}-{stamp}-{os.getpid()}-{next(_SEQUENCE):06d}.parquet"
        self.final = folder / name
        self.temp = folder / f".{name}.tmp"
        self.writer = pq.ParquetWriter(self.temp, schema, compression="zstd")
        self.rows = 0
        self.opened = time.monotonic()

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (of the file's schema) as one more row group."""
        self.writer.write_table(table)
        self.rows += table.num_rows

    def publish(self) -> None:
        """Close the file, fsync it and rename it to :attr:`final` (atomic, visible at once)."""
        self.writer.close()
        with open(self.temp, "rb+") as handle:  # durable before it becomes visible
            os.fsync(handle.fileno())
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        """Close the writer if it still can and delete the temp file; never raises."""
        with contextlib.suppress(Exception):  # already failing; the temp file goes anyway
            self.writer.close()
        self.temp.unlink(missing_ok=True)


def check_writable(directory: Path) -> Path:
    """Create ``directory`` and prove a file can be written there (done at construction).

    Args:
        directory: The folder a log will write to.

    Returns:
        ``directory`` itself.

    Raises:
        ConfigError: The folder cannot be created or a file cannot be created in it.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"log directory {str(directory)!r} is not writable: {exc}; "
            "point the log at a folder this server can create files in",
            path=str(directory),
        ) from exc
    return directory


class ParquetSink(Generic[Item]):
    """A bounded buffer drained by a thread into rotated Parquet files.

    The thread starts at construction; call :meth:`close` to write what is left and
    stop it.

    Args:
        prefix: File name prefix; also names the thread (``modelyard-<prefix>-log``).
        to_tables: Turns a drained batch of ``(item, rows)`` into ``(folder, table)``
            pairs. Rows it leaves out are counted as failed; if it raises, the whole
            batch is.
        max_rows_per_file: Publish a file once it holds this many rows.
        max_file_age_s: Publish a file this many seconds after it was opened.
        max_buffer_rows: Rows kept in memory at most; beyond that :meth:`put` drops.
        flush_interval_s: How often the thread drains the buffer.

    Attributes:
        dropped: Rows refused by :meth:`put` or counted by :meth:`drop`.
        failed: Rows accepted but lost (conversion skipped them, I/O error).
        written: Rows in published files.

    Raises:
        ValidationError: A limit is not positive.
    """

    def __init__(
        self,
        prefix: str,
        to_tables: Callable[[list[tuple[Item, int]]], list[tuple[Path, pa.Table]]],
        *,
        max_rows_per_file: int,
        max_file_age_s: float,
        max_buffer_rows: int,
        flush_interval_s: float,
    ) -> None:
        for name, value in [
            ("max_rows_per_file", max_rows_per_file),
            ("max_file_age_s", max_file_age_s),
            ("max_buffer_rows", max_buffer_rows),
            ("flush_interval_s", flush_interval_s),
        ]:
            if not value > 0:
                raise ValidationError(f"{name} must be > 0, got {value!r}", **{name: value})
        self._prefix = prefix
        self._to_tables = to_tables
        self._max_rows = int(max_rows_per_file)
        self._max_age = float(max_file_age_s)
        self._max_buffer = int(max_buffer_rows)
        self._interval = float(flush_interval_s)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._buffer: list[tuple[Item, int]] = []
        self._buffered_rows = 0
        self._closing = False
        self._files: dict[tuple[Path, pa.Schema], OpenFile] = {}
        self.dropped = 0
        self.failed = 0
        self.written = 0
        self._thread = threading.Thread(
            target=self._run, name=f"modelyard-{prefix}-log", daemon=True
        )
        self._thread.start()

    @property
    def buffered_rows(self) -> int:
        """Rows waiting in memory for the thread."""
        return self._buffered_rows

    def put(self, item: Item, rows: int) -> None:
        """Queue ``item`` (``rows`` rows); O(1), never blocks on I/O, never raises.

        The rows are dropped (counted in :attr:`dropped`) when the buffer would exceed
        ``max_buffer_rows`` or the sink is closing. Past half full, the thread is woken
        to drain early.
        """
        with self._lock:
            if self._closing or self._buffered_rows + rows > self._max_buffer:
                self.dropped += rows
                return
            self._buffer.append((item, rows))
            self._buffered_rows += rows
            pressing = self._buffered_rows * 2 > self._max_buffer
        if pressing:  # drain early rather than start dropping
            self._wake.set()

    def drop(self, rows: int) -> None:
        """Count ``rows`` as dropped (the owner refused them before :meth:`put`)."""
        with self._lock:
            self.dropped += rows

    def close(self) -> None:
        """Write everything buffered, publish every open file, stop the thread (idempotent)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            closing = self._closing  # read before the flush, so the last one sees everything
            self._flush()
            if closing:
                break
        for key in list(self._files):
            self._publish(key)

    def _flush(self) -> None:
        with self._lock:
            items, self._buffer = self._buffer, []
            self._buffered_rows = 0
        if items:
            try:
                tables = self._to_tables(items)
            except Exception:  # noqa: BLE001 - a bug here must not kill the writer thread
                _log.exception("prediction log: could not convert %d entries", len(items))
                tables = []
            # entries the conversion skipped (malformed) are lost: count them
            self.failed += sum(rows for _, rows in items) - sum(t.num_rows for _, t in tables)
            for folder, table in tables:
                self._write(folder, table)
        now = time.monotonic()
        for key, file in list(self._files.items()):
            if now - file.opened >= self._max_age:
                self._publish(key)

    def _write(self, folder: Path, table: pa.Table) -> None:
        key = (folder, table.schema)
        offset = 0
        try:
            while offset < table.num_rows:
                file = self._files.get(key)
                if file is None:
                    file = self._files[key] = OpenFile(folder, self._prefix, table.schema)
                part = table.slice(offset, self._max_rows - file.rows)
                file.write(part)
                offset += part.num_rows
                if file.rows >= self._max_rows:
                    self._publish(key)
        except Exception:  # noqa: BLE001 - disk full, no permission: lose rows, keep serving
            _log.exception("prediction log: could not write to %s", folder)
            lost = self._files.pop(key, None)
            lost_rows = table.num_rows - offset + (lost.rows if lost else 0)
            if lost is not None:
                lost.discard()
            self.failed += lost_rows

    def _publish(self, key: tuple[Path, pa.Schema]) -> None:
        file = self._files.pop(key)
        try:
            file.publish()
            self.written += file.rows
        except Exception:  # noqa: BLE001 - as in _write
            _log.exception("prediction log: could not publish %s", file.final)
            file.discard()
            self.failed += file.rows
