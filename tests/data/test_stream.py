"""Streaming ingestion from Redis Streams, against a real Redis server.

The sink here is a small real one, :class:`SqliteSink`: rows as JSON in one SQLite file,
keyed by (stream, message id), each commit one transaction, so it survives a consumer
killed with SIGKILL. The real dataset sink is tested with the dataset client; this file
tests the consumer: batching, conversion, dead letters, acknowledgement and recovery.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from modelyard.data._stream_rows import build_batch
from modelyard.data.stream import ConsumerConfig, ConsumerStats, StreamConsumer
from modelyard.exceptions import (
    ConfigError,
    ConflictError,
    MissingDependencyError,
    StoreError,
    ValidationError,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


class SqliteSink:
    """A durable StreamSink for tests: rows as JSON in SQLite, one transaction per commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0
        # Made in one thread, used by one other at a time (a consumer thread).
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (stream TEXT, message_id TEXT, row TEXT,"
            " PRIMARY KEY (stream, message_id))"
        )
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")

    @property
    def schema(self) -> pa.Schema | None:
        found = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return None if found is None else pa.ipc.read_schema(pa.py_buffer(found[0]))

    def committed_ids(self, stream: str, ids: Sequence[str]) -> set[str]:
        marks = ",".join("?" * len(ids))
        query = f"SELECT message_id FROM rows WHERE stream = ? AND message_id IN ({marks})"
        return {row[0] for row in self._conn.execute(query, [stream, *ids])}

    def commit(self, stream: str, table: pa.Table, ids: Sequence[str]) -> None:
        assert table.column("_message_id").to_pylist() == list(ids)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            known = self.schema
            if known is None:
                self._conn.execute(
                    "INSERT INTO meta VALUES ('schema', ?)", [table.schema.serialize().to_pybytes()]
                )
            elif not known.equals(table.schema):
                raise ValueError(f"schema changed: {known} -> {table.schema}")
            records = [
                (stream, mid, json.dumps(row, default=str))
                for mid, row in zip(ids, table.to_pylist(), strict=True)
            ]
            self._conn.executemany("INSERT INTO rows VALUES (?, ?, ?)", records)
        except sqlite3.IntegrityError as exc:
            self._conn.execute("ROLLBACK")
            raise ConflictError(f"already committed: {exc}") from exc
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        self.commits += 1

    def rows(self) -> list[dict[str, Any]]:
        """Every committed row, in commit order."""
        return [json.loads(r[0]) for r in self._conn.execute("SELECT row FROM rows ORDER BY rowid")]

    def close(self) -> None:
        self._conn.close()


# The child process of the crash tests: its sink dies before or after committing.
KILLED_CONSUMER = """
import os, signal, sys
from pathlib import Path
from modelyard.data.stream import ConsumerConfig, StreamConsumer
from tests.data.test_stream import SqliteSink

url, stream, db, when = sys.argv[1:]

class DyingSink(SqliteSink):
    def commit(self, stream, table, ids):
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        super().commit(stream, table, ids)
        os.kill(os.getpid(), signal.SIGKILL)

config = ConsumerConfig(stream, "g", consumer="victim", block_ms=50, batch_size=1000)
StreamConsumer(url, DyingSink(Path(db)), config).poll_once()
sys.exit("the sink should have killed this process")
"""


@pytest.fixture
def r(redis_url: str) -> Iterator[Any]:
    """A plain redis-py client for setting up and inspecting streams."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[[], SqliteSink]]:
    """Sinks on one SQLite file (one connection each, closed afterwards)."""
    sinks: list[SqliteSink] = []

    def make() -> SqliteSink:
        sinks.append(SqliteSink(tmp_path / "sink.db"))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.close()


@pytest.fixture
def make_consumer(redis_url: str, stream_name: str) -> Iterator[Callable[..., StreamConsumer]]:
    """Consumers of the test stream in group "g", short waits, closed afterwards."""
    consumers: list[StreamConsumer] = []

    def make(sink: SqliteSink, *, dtypes: Any = None, **settings: Any) -> StreamConsumer:
        settings = {"group": "g", "consumer": f"c{len(consumers)}", "block_ms": 20, **settings}
        config = ConsumerConfig(stream=stream_name, **settings)
        consumers.append(StreamConsumer(redis_url, sink, config, dtypes=dtypes))
        return consumers[-1]

    yield make
    for consumer in consumers:
        consumer.close()


def add_json(r: Any, stream: str, *objects: Any) -> list[str]:
    """XADD each object as a one-field ``data`` message; returns the ids."""
    return [r.xadd(stream, {"data": json.dumps(obj)}).decode() for obj in objects]


def drain(consumer: StreamConsumer, limit: int = 100) -> ConsumerStats:
    """Poll until a poll finds nothing."""
    for _ in range(limit):
        if consumer.poll_once() == 0:
            return consumer.stats
    raise AssertionError("the stream did not drain")


def pending(r: Any, stream: str) -> int:
    return int(r.xpending(stream, "g")["pending"])


def dead_letters(r: Any, stream: str) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in r.xrange(f"{stream}:dead-letter")]


def as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


pytestmark = pytest.mark.redis


def test_json_messages_become_rows_with_their_ids_and_are_acked(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    ids = add_json(r, stream_name, *({"n": n, "name": f"item-{n}"} for n in range(25)))
    sink = make_sink()
    stats = drain(make_consumer(sink, batch_size=10))

    assert sink.rows() == [{"n": n, "name": f"item-{n}", "_message_id": ids[n]} for n in range(25)]
    assert sink.commits == 3
    assert (stats.read, stats.committed_rows, stats.batches, stats.last_id) == (25, 25, 3, ids[-1])
    assert (stats.dead_lettered, stats.duplicates_skipped, stats.reclaimed) == (0, 0, 0)
    assert pending(r, stream_name) == 0


def test_resp3_connections_work_too(
    redis_url: str, r: Any, stream_name: str, make_sink: Callable[[], SqliteSink]
) -> None:
    ids = add_json(r, stream_name, {"n": 1}, {"n": 2})
    sink = make_sink()
    config = ConsumerConfig(stream_name, "g", block_ms=20)
    with StreamConsumer(f"{redis_url}?protocol=3", sink, config) as consumer:
        assert drain(consumer).committed_rows == 2
    assert [row["_message_id"] for row in sink.rows()] == ids


def test_an_empty_stream_polls_nothing_within_block_ms(
    stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    sink = make_sink()
    consumer = make_consumer(sink, block_ms=50)
    started = time.monotonic()
    assert consumer.poll_once() == 0
    assert 0.04 < time.monotonic() - started < 1.0
    assert make_consumer(sink, block_ms=0).poll_once() == 0  # 0 never waits (not BLOCK 0)
    assert sink.commits == 0


def test_flat_fields_are_cast_with_dtypes(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    r.xadd(stream_name, {"user": "ann", "age": "42", "at": "2024-05-01T12:00:00", "tags": '["a"]'})
    r.xadd(stream_name, {"user": "bob", "age": "7"})
    dtypes = {"age": pa.int32(), "at": pa.timestamp("us"), "tags": pa.list_(pa.string())}
    sink = make_sink()
    drain(make_consumer(sink, dtypes=dtypes))

    schema = sink.schema
    assert schema is not None
    assert schema.names == ["user", "age", "at", "tags", "_message_id"]
    assert [schema.field(n).type for n in ("user", "age", "at", "tags")] == [
        pa.string(),
        pa.int32(),
        pa.timestamp("us"),
        pa.list_(pa.string()),
    ]
    rows = sink.rows()
    assert (rows[0]["age"], rows[0]["at"], rows[0]["tags"]) == (42, "2024-05-01 12:00:00", ["a"])
    assert (rows[1]["user"], rows[1]["at"], rows[1]["tags"]) == ("bob", None, None)


def test_later_batches_follow_the_dataset_schema(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    sink = make_sink()
    consumer = make_consumer(sink)
    add_json(r, stream_name, {"a": 1, "b": "x"})
    drain(consumer)
    flat = r.xadd(stream_name, {"a": "7", "b": "y"}).decode()
    extra, missing = add_json(r, stream_name, {"a": 2, "b": "z", "c": 3, "d": 4}, {"b": "w"})
    stats = drain(consumer)

    rows = sink.rows()
    assert [(row["a"], row["b"]) for row in rows] == [(1, "x"), (7, "y"), (None, "w")]
    assert [row["_message_id"] for row in rows[1:]] == [flat, missing]
    [letter] = dead_letters(r, stream_name)
    assert letter[b"id"].decode() == extra
    assert letter[b"reason"] == (
        b"unknown field(s) 'c', 'd' for the dataset schema; known columns: a, b"
    )
    assert (stats.committed_rows, stats.dead_lettered, pending(r, stream_name)) == (3, 1, 0)


BAD_MESSAGES: list[tuple[dict[Any, Any], str]] = [
    ({"data": "{not json"}, "field 'data' is not valid JSON: Expecting property name"),
    ({"data": "[1, 2]"}, "field 'data' holds an array, expected a JSON object"),
    ({"json": "3.5"}, "field 'json' holds a number, expected a JSON object"),
    ({"data": '"text"'}, "field 'data' holds a string"),
    ({"data": "null"}, "field 'data' holds null"),
    ({"data": '{"n": "many"}'}, "field 'n' value 'many' cannot be cast to int64"),
    ({"data": '{"n": 1.5}'}, "field 'n' value 1.5 is not a whole number"),
    ({"data": '{"n": NaN}'}, "field 'n' value nan is not a whole number"),
    (
        {"data": '{"n": 99999999999999999999999}'},
        "field 'n' value 99999999999999999999999 does not fit",
    ),
    ({"data": '{"n": true}'}, "field 'n' value True does not fit column type int64"),
    ({"data": '{"n": 1, "_message_id": "forged"}'}, "'_message_id' is reserved"),
    ({"n": "x", "id": "7", "reason": "r"}, "field 'n' value 'x' cannot be cast to int64"),
    ({"data": b"\xff\xfe{}"}, "field 'data' is not valid UTF-8"),
    ({b"\xff": "1"}, "field name b'\\xff' is not valid UTF-8"),
    ({"data": '{"a":' * 100_000 + "1" + "}" * 100_000}, "nested too deeply"),
]


def test_bad_messages_are_dead_lettered_with_a_reason_and_the_rest_committed(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    good = add_json(r, stream_name, {"n": 1})
    bad = [r.xadd(stream_name, fields).decode() for fields, _ in BAD_MESSAGES]
    good += add_json(r, stream_name, {"n": 2}, {"n": 3.0})
    sink = make_sink()
    stats = drain(make_consumer(sink, dtypes={"n": pa.int64()}))

    assert [(row["n"], row["_message_id"]) for row in sink.rows()] == list(
        zip([1, 2, 3], good, strict=True)
    )
    letters = dead_letters(r, stream_name)
    assert [letter[b"id"].decode() for letter in letters] == bad
    for letter, (fields, reason) in zip(letters, BAD_MESSAGES, strict=True):
        assert reason in letter[b"reason"].decode(), letter[b"reason"]
        assert (letter[b"stream"].decode(), letter[b"group"]) == (stream_name, b"g")
        kept = {k.removeprefix(b"field:"): v for k, v in letter.items() if k.startswith(b"field:")}
        assert kept == {as_bytes(k): as_bytes(v) for k, v in fields.items()}
    assert (stats.dead_lettered, stats.committed_rows, pending(r, stream_name)) == (len(bad), 3, 0)


def test_a_batch_of_only_bad_or_duplicate_messages_commits_nothing(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    r.xadd(stream_name, {"data": "oops"})
    sink = make_sink()
    stats = drain(make_consumer(sink))
    assert (sink.commits, stats.dead_lettered, pending(r, stream_name)) == (0, 1, 0)


def test_a_failed_commit_acknowledges_nothing_and_writes_no_dead_letters(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    class BrokenSink(SqliteSink):
        def commit(self, stream: str, table: pa.Table, ids: Sequence[str]) -> None:
            raise OSError("disk full")

    add_json(r, stream_name, {"n": 1}, {"n": 2})
    r.xadd(stream_name, {"data": "oops"})
    consumer = make_consumer(BrokenSink(make_sink().path))
    with pytest.raises(OSError, match="disk full"):
        consumer.poll_once()
    assert pending(r, stream_name) == 3
    assert dead_letters(r, stream_name) == []
    assert consumer.stats.read == 0


def test_a_commit_race_drops_the_ids_another_consumer_committed_first(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    ids = add_json(r, stream_name, {"n": 1}, {"n": 2}, {"n": 3})
    sink = make_sink()
    assert make_consumer(sink, batch_size=1).poll_once() == 1  # the winner commits ids[0]

    class LateSink(SqliteSink):
        """Answers "nothing committed" once, as a consumer racing the winner would see it."""

        lied = False

        def committed_ids(self, stream: str, ids: Sequence[str]) -> set[str]:
            if not self.lied:
                self.lied = True
                return set()
            return super().committed_ids(stream, ids)

    late = LateSink(sink.path)
    try:
        stats = drain(make_consumer(late, group="late"))
    finally:
        late.close()
    assert [row["_message_id"] for row in sink.rows()] == ids
    assert (stats.read, stats.committed_rows, stats.duplicates_skipped) == (3, 2, 1)
    assert r.xpending(stream_name, "late")["pending"] == 0


def run_killed_consumer(redis_url: str, stream: str, db: Path, when: str) -> None:
    """Run a consumer in a child process whose sink SIGKILLs it before or after committing."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CONSUMER, redis_url, stream, str(db), when],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr.decode()


@pytest.mark.slow  # a child Python process: ~1 s idle, ~3 s on a busy machine
def test_messages_of_a_consumer_killed_before_commit_are_reclaimed_once(
    redis_url: str,
    r: Any,
    stream_name: str,
    make_sink: Callable[[], SqliteSink],
    make_consumer: Any,
) -> None:
    ids = add_json(r, stream_name, *({"n": n} for n in range(50)))
    sink = make_sink()
    run_killed_consumer(redis_url, stream_name, sink.path, "before")
    assert sink.rows() == []
    assert r.xpending(stream_name, "g")["consumers"] == [{"name": b"victim", "pending": 50}]

    rescuer = make_consumer(sink, claim_idle_ms=100, batch_size=20)
    time.sleep(0.15)
    stats = drain(rescuer)
    assert [row["_message_id"] for row in sink.rows()] == ids
    assert (stats.read, stats.reclaimed, stats.committed_rows) == (50, 50, 50)
    assert pending(r, stream_name) == 0


@pytest.mark.slow  # a child Python process: ~1 s idle, ~3 s on a busy machine
def test_a_consumer_killed_between_commit_and_ack_causes_no_duplicates(
    redis_url: str,
    r: Any,
    stream_name: str,
    make_sink: Callable[[], SqliteSink],
    make_consumer: Any,
) -> None:
    ids = add_json(r, stream_name, *({"n": n} for n in range(50)))
    sink = make_sink()
    run_killed_consumer(redis_url, stream_name, sink.path, "after")
    assert [row["_message_id"] for row in sink.rows()] == ids
    assert pending(r, stream_name) == 50

    rescuer = make_consumer(sink, claim_idle_ms=100)
    time.sleep(0.15)
    stats = drain(rescuer)
    assert [row["_message_id"] for row in sink.rows()] == ids
    assert (stats.reclaimed, stats.duplicates_skipped, stats.committed_rows) == (50, 50, 0)
    assert sink.commits == 0
    assert pending(r, stream_name) == 0


def test_a_message_in_flight_elsewhere_is_not_reclaimed_before_claim_idle_ms(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    add_json(r, stream_name, {"n": 1})
    r.xgroup_create(stream_name, "g", id="0")
    r.xreadgroup("g", "busy", {stream_name: ">"})  # delivered, not yet acked
    stats = drain(make_consumer(make_sink(), claim_idle_ms=60_000))
    assert stats.read == 0
    assert pending(r, stream_name) == 1


def test_run_finishes_the_batch_in_hand_when_stopped(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    stop = threading.Event()

    class StoppingSink(SqliteSink):
        def commit(self, stream: str, table: pa.Table, ids: Sequence[str]) -> None:
            stop.set()  # the stop arrives mid-batch: this batch must still commit and ack
            super().commit(stream, table, ids)

    add_json(r, stream_name, *({"n": n} for n in range(30)))
    sink = StoppingSink(make_sink().path)
    seen: list[ConsumerStats] = []
    try:
        stats = make_consumer(sink, batch_size=10).run(stop, on_batch=seen.append)
        assert (stats.batches, stats.committed_rows) == (1, 10)
        assert [s.committed_rows for s in seen] == [10]
        assert len(sink.rows()) == 10
        assert pending(r, stream_name) == 0  # the other 20 were never delivered
    finally:
        sink.close()


def test_run_returns_promptly_when_stopped_while_waiting(
    stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    consumer = make_consumer(make_sink(), block_ms=100)
    stop = threading.Event()
    result: list[ConsumerStats] = []
    worker = threading.Thread(target=lambda: result.append(consumer.run(stop)))
    worker.start()
    time.sleep(0.15)
    stopped = time.monotonic()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - stopped < 1.0
    assert result == [ConsumerStats()]


def test_two_consumers_in_one_group_take_every_message_exactly_once(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    rng = random.Random(7)
    ids = add_json(r, stream_name, *({"n": n, "x": rng.random()} for n in range(1000)))
    sinks = [make_sink(), make_sink()]
    consumers = [make_consumer(sink, batch_size=50) for sink in sinks]
    stop = threading.Event()
    results: list[ConsumerStats] = []

    def work(consumer: StreamConsumer) -> None:
        # A short pause per batch lets both consumers take turns on a fast machine.
        results.append(consumer.run(stop, on_batch=lambda _: time.sleep(0.005)))

    workers = [threading.Thread(target=work, args=(c,)) for c in consumers]
    for worker in workers:
        worker.start()
    monitor = make_sink()
    deadline = time.monotonic() + 30
    while len(monitor.rows()) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)

    assert sorted(row["_message_id"] for row in monitor.rows()) == sorted(ids)
    assert sum(s.committed_rows for s in results) == len(ids)
    assert all(s.read > 0 for s in results), results
    assert pending(r, stream_name) == 0


def test_an_existing_group_is_reused_and_start_id_dollar_skips_old_messages(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    add_json(r, stream_name, {"n": 0})
    sink = make_sink()
    first = make_consumer(sink, group="new-only", start_id="$")
    second = make_consumer(sink, group="new-only", start_id="0")  # BUSYGROUP: kept as is
    [fresh] = add_json(r, stream_name, {"n": 1})
    assert drain(first).read + drain(second).read == 1
    assert [row["_message_id"] for row in sink.rows()] == [fresh]


def test_a_huge_message_and_many_messages(
    r: Any, stream_name: str, make_sink: Callable[[], SqliteSink], make_consumer: Any
) -> None:
    big = "x" * 2_000_000
    r.xadd(stream_name, {"n": "-1", "blob": big})
    pipe = r.pipeline()
    for n in range(5000):
        pipe.xadd(stream_name, {"n": str(n), "blob": "y"})
    pipe.execute()
    sink = make_sink()
    started = time.perf_counter()
    stats = drain(make_consumer(sink, batch_size=1000, block_ms=0, dtypes={"n": pa.int64()}))
    assert time.perf_counter() - started < 10
    rows = sink.rows()
    assert (stats.committed_rows, len(rows), rows[0]["blob"]) == (5001, 5001, big)
    assert [row["n"] for row in rows] == list(range(-1, 5000))


def test_a_key_that_is_not_a_stream_is_a_store_error(
    redis_url: str, r: Any, stream_name: str, make_sink: Callable[[], SqliteSink]
) -> None:
    r.set(stream_name, "a plain string")
    with pytest.raises(StoreError, match="the key exists and is not a stream") as info:
        StreamConsumer(redis_url, make_sink(), ConsumerConfig(stream_name, "g"))
    assert info.value.details["stream"] == stream_name


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:1/0",
        "redis://admin:hunter2@127.0.0.1:1/0",
        "redis://127.0.0.1:1/0?password=hunter2",
    ],
)
def test_an_unreachable_redis_is_a_store_error_naming_the_url_without_password(
    url: str, tmp_path: Path
) -> None:
    sink = SqliteSink(tmp_path / "sink.db")
    try:
        with pytest.raises(StoreError, match="cannot reach Redis at redis://") as info:
            StreamConsumer(url, sink, ConsumerConfig("events", "g"))
    finally:
        sink.close()
    message = str(info.value)
    assert "hunter2" not in message
    assert "127.0.0.1:1/0" in message
    assert "***" in message
    assert "check that the server is running" in message
    assert "hunter2" not in info.value.details["url"]


def test_a_malformed_url_is_a_config_error(tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "sink.db")
    try:
        with pytest.raises(ConfigError, match="invalid Redis URL"):
            StreamConsumer("http://:secret@127.0.0.1/0", sink, ConsumerConfig("events", "g"))
    finally:
        sink.close()


def test_without_redis_py_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'modelyard\[redis\]'"):
        StreamConsumer(
            "redis://127.0.0.1:6379/0", SqliteSink(tmp_path / "s.db"), ConsumerConfig("e", "g")
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"stream": ""}, "stream must be a non-empty string"),
        ({"group": ""}, "group must be a non-empty string"),
        ({"consumer": ""}, "consumer must be a non-empty string"),
        ({"batch_size": 0}, "batch_size=0 is out of range; use a whole number from 1 to 100000"),
        ({"batch_size": 10**9}, "batch_size=1000000000 is out of range"),
        ({"batch_size": "500"}, "batch_size='500' is out of range"),
        ({"batch_size": True}, "batch_size=True is out of range"),
        ({"block_ms": -1}, "block_ms=-1 is out of range; use a whole number from 0 to 86400000"),
        ({"claim_idle_ms": 0}, "claim_idle_ms=0 is out of range"),
        ({"claim_idle_ms": 1.5}, "claim_idle_ms=1.5 is out of range"),
        ({"start_id": 0}, "start_id must be a non-empty string"),
        ({"start_id": "latest"}, "start_id='latest' is not '0', '\\$' or a stream id"),
        ({"dead_letter": "events"}, "dead_letter must differ from the stream 'events'"),
    ],
)
def test_bad_consumer_settings_are_config_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ConsumerConfig(**{"stream": "events", "group": "g", **settings})


def test_consumer_config_defaults() -> None:
    config = ConsumerConfig("events", "ingest")
    assert config.dead_letter == "events:dead-letter"
    assert config.consumer.endswith(f"-{os.getpid()}")
    assert (config.batch_size, config.block_ms, config.claim_idle_ms, config.start_id) == (
        500,
        1000,
        30_000,
        "0",
    )


@pytest.mark.parametrize("dtypes", [{"n": "int64"}, {"_message_id": pa.string()}])
def test_bad_dtypes_are_validation_errors(dtypes: Any, tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "sink.db")
    try:
        with pytest.raises(ValidationError):
            StreamConsumer("redis://127.0.0.1:1/0", sink, ConsumerConfig("e", "g"), dtypes=dtypes)
    finally:
        sink.close()


# build_batch alone: the first batch of a dataset, where types are inferred.


def message(message_id: str, **fields: str) -> tuple[str, dict[bytes, bytes]]:
    return message_id, {k.encode(): v.encode() for k, v in fields.items()}


def test_inference_takes_columns_from_every_row_and_types_all_null_columns_as_string() -> None:
    batch = build_batch(
        [message("1-0", data='{"a": 1, "z": null}'), message("2-0", data='{"b": 2.5, "z": null}')],
        None,
        {},
    )
    assert batch.table is not None
    assert batch.table.schema == pa.schema(
        [
            ("a", pa.int64()),
            ("z", pa.string()),
            ("b", pa.float64()),
            pa.field("_message_id", pa.string(), nullable=False),
        ]
    )
    assert batch.table.to_pylist() == [
        {"a": 1, "z": None, "b": None, "_message_id": "1-0"},
        {"a": None, "z": None, "b": 2.5, "_message_id": "2-0"},
    ]


def test_inference_keeps_the_first_type_and_refuses_conflicting_rows() -> None:
    batch = build_batch(
        [
            message("1-0", data='{"a": 1}'),
            message("2-0", data='{"a": "text"}'),
            message("3-0", data='{"a": 2.5}'),  # int and float widen to double
        ],
        None,
        {},
    )
    assert batch.ids == ["1-0", "3-0"]
    assert batch.table is not None
    assert batch.table.column("a").to_pylist() == [1.0, 2.5]
    [dead] = batch.dead
    assert dead.message_id == "2-0"
    assert dead.reason == (
        "field 'a' value 'text' does not match type double of the other messages in this batch"
    )


def test_an_empty_batch_has_no_table() -> None:
    assert build_batch([], None, {}).table is None
    assert build_batch([], pa.schema([("a", pa.int64())]), {}).ids == []


def test_a_non_nullable_column_without_a_value_is_refused() -> None:
    schema = pa.schema([pa.field("a", pa.int64(), nullable=False), ("b", pa.string())])
    batch = build_batch([message("1-0", b="x"), message("2-0", a="1")], schema, {})
    assert batch.ids == ["2-0"]
    assert batch.dead[0].reason == "no value for non-nullable column(s) 'a'"


def test_many_unknown_fields_are_listed_briefly() -> None:
    fields = {f"f{n}": "1" for n in range(100)}
    batch = build_batch([message("1-0", **fields)], pa.schema([("a", pa.int64())]), {})
    assert batch.dead[0].reason.startswith("unknown field(s) 'f0', 'f1'")
    assert "'f19' (and 80 more) for the dataset schema; known columns: a" in batch.dead[0].reason
