"""Overlap reading, profiling and writing: a read-ahead thread and a Parquet writer thread.

pyarrow's CSV reader and Parquet writer release the GIL, so reading the next
block and writing the previous row group run while the main thread masks and
profiles the current batch. Queues are short (two items), so memory stays
bounded: a stalled stage makes the others wait instead of buffering.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ParquetSink", "read_ahead"]

T = TypeVar("T")
_DEPTH = 2
_END = object()
_POLL_S = 0.1


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int = _DEPTH) -> Iterator[T]:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the caller.

    An exception raised while producing an item is raised here, in order. If the
    caller stops early, the producer stops at its next item.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(slots, item, stop):
                    return
            _put(slots, _END, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            _put(slots, _Failure(exc), stop)

    thread = threading.Thread(target=produce, name="modelyard-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def _put(slots: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            slots.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


class ParquetSink:
    """Collect batches into row groups of ``group_rows`` and write them in a thread.

    Row groups of a fixed size (not one per incoming batch) keep dictionary
    encoding effective and the file as small as a one-shot write would make it.
    """

    def __init__(self, path: Path, schema: pa.Schema, group_rows: int) -> None:
        self._writer = pq.ParquetWriter(
            path, schema, compression="snappy", dictionary_pagesize_limit=256 << 10
        )
        self._group_rows = group_rows
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._slots: queue.Queue[Any] = queue.Queue(maxsize=_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modelyard-writer", daemon=True)
        self._thread.start()

    def write(self, batch: pa.RecordBatch) -> None:
        """Queue ``batch``; a full row group goes to the writer thread."""
        self._raise_if_failed()
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self._group_rows:
            self._flush()

    def close(self, *, discard: bool = False) -> None:
        """Write what is left (unless ``discard``), wait for the thread, close the file."""
        if not discard:
            self._flush()
        self._slots.put(_END)
        self._thread.join()
        self._writer.close()
        if not discard:
            self._raise_if_failed()

    def _flush(self) -> None:
        if self._pending:
            self._slots.put(pa.Table.from_batches(self._pending))
            self._pending, self._pending_rows = [], 0

    def _run(self) -> None:
        while (table := self._slots.get()) is not _END:
            if self._error is not None:
                continue  # drain, so the producer never blocks on a dead writer
            try:
                self._writer.write_table(table, row_group_size=table.num_rows)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
