"""The read-ahead thread and the threaded Parquet writer used by ingestion."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.data._pipeline import ParquetSink, read_ahead


def test_read_ahead_keeps_order_and_reaches_the_end() -> None:
    assert list(read_ahead(range(1000))) == list(range(1000))
    assert list(read_ahead([])) == []


def test_an_error_while_producing_is_raised_in_the_consumer_in_order() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad row 3")

    seen = []
    with pytest.raises(ValueError, match="bad row 3"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_producer() -> None:
    produced = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    for item in read_ahead(items(), depth=2):
        if item == 3:
            break
    assert len(produced) < 10  # the producer ran at most a couple of items ahead
    assert not [t for t in threading.enumerate() if t.name == "modelyard-read-ahead"]


def test_parquet_sink_writes_fixed_size_row_groups(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    sink = ParquetSink(tmp_path / "out.parquet", schema, group_rows=1000)
    for start in range(0, 3500, 300):
        sink.write(pa.record_batch([pa.array(range(start, min(start + 300, 3500)))], schema=schema))
    sink.close()
    parquet = pq.ParquetFile(tmp_path / "out.parquet")
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    assert sizes == [1200, 1200, 1100]
    assert parquet.read().column("x").to_pylist() == list(range(3500))


def test_a_writer_failure_is_raised_to_the_caller(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    sink = ParquetSink(tmp_path / "out.parquet", schema, group_rows=1)
    wrong = pa.record_batch([pa.array(["not an int"])], names=["x"])
    sink.write(wrong)
    with pytest.raises(ValueError, match="schema does not match"):
        sink.close()


def test_a_discarded_sink_stops_its_thread(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    sink = ParquetSink(tmp_path / "out.parquet", schema, group_rows=10)
    sink.write(pa.record_batch([pa.array([1, 2])], schema=schema))
    sink.close(discard=True)
    assert not [t for t in threading.enumerate() if t.name == "modelyard-writer"]
