"""Redis Streams into a real dataset: the DatasetSink with the StreamConsumer, crashes included.

Real Redis (127.0.0.1:6379), real SQLite metadata and real artifact folders; the
consumer is killed with SIGKILL in a child process at the two dangerous moments.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import redis

from modelyard.data import ConsumerConfig, DataClient, StreamConsumer
from modelyard.exceptions import ConflictError, NotFoundError, StoreError, ValidationError
from tests.data.conftest import make_client

pytestmark = pytest.mark.redis
REPO_ROOT = Path(__file__).resolve().parents[2]


def publish(url: str, stream: str, n: int, start: int = 0) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        return [
            client.xadd(stream, {"data": json.dumps({"user": i, "amount": i * 1.5})}).decode()
            for i in range(start, start + n)
        ]
    finally:
        client.close()


def pending(url: str, stream: str, group: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.xpending(stream, group)["pending"])
    finally:
        client.close()


def drain(url: str, data: DataClient, stream: str, *, claim_idle_ms: int = 30_000) -> None:
    config = ConsumerConfig(
        stream=stream,
        group="g",
        consumer="survivor",
        batch_size=50,
        block_ms=0,
        claim_idle_ms=claim_idle_ms,
    )
    with StreamConsumer(url, data.sink("events"), config) as consumer:
        while consumer.poll_once():
            pass


def test_messages_become_appended_versions_with_their_ids(
    data: DataClient, redis_url: str, stream_name: str
) -> None:
    ids = publish(redis_url, stream_name, 120)
    drain(redis_url, data, stream_name)
    events = data.get("events")
    assert events.num_rows == 120
    assert [v.num_rows for v in data.versions("events")] == [50, 100, 120]
    table = events.to_arrow()
    assert table.column("_message_id").to_pylist() == ids
    assert table.column("user").to_pylist() == list(range(120))
    assert pending(redis_url, stream_name, "g") == 0
    assert data.sink("events").committed_ids(stream_name, [*ids[:3], "9-9"]) == set(ids[:3])


def test_a_recorded_message_cannot_be_committed_twice(
    data: DataClient, redis_url: str, stream_name: str
) -> None:
    publish(redis_url, stream_name, 5)
    drain(redis_url, data, stream_name)
    sink = data.sink("events")
    again = data.get("events").to_arrow().slice(0, 2)
    with pytest.raises(ConflictError, match="already in this dataset"):
        sink.commit(stream_name, again, again.column("_message_id").to_pylist())
    assert data.get("events").num_rows == 5


CHILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
from modelyard.data import ConsumerConfig, StreamConsumer
from modelyard.data.sink import DatasetSink
from tests.data.conftest import make_client
from pathlib import Path

class Crashing(DatasetSink):
    def commit(self, stream, table, ids):
        if {after_commit!r}:
            super().commit(stream, table, ids)
        os.kill(os.getpid(), signal.SIGKILL)

client = make_client({db!r}, Path({root_dir!r}))
config = ConsumerConfig(stream={stream!r}, group="g", consumer="doomed", batch_size=50, block_ms=0)
StreamConsumer({url!r}, Crashing(client, "events"), config).poll_once()
"""


@pytest.mark.slow
@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "before-ack"])
def test_a_consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, redis_url: str, stream_name: str, after_commit: bool
) -> None:
    db = f"sqlite:///{tmp_path / 'my.db'}"
    ids = publish(redis_url, stream_name, 80)
    script = CHILD.format(
        root=str(REPO_ROOT),
        after_commit=after_commit,
        db=db,
        root_dir=str(tmp_path),
        stream=stream_name,
        url=redis_url,
    )
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False)
    assert child.returncode == -9
    assert pending(redis_url, stream_name, "g") == 50  # read by the dead consumer, never acked
    data = make_client(db, tmp_path)
    try:
        committed = data.get("events").num_rows if after_commit else 0
        assert committed == (50 if after_commit else 0)
        drain(redis_url, data, stream_name, claim_idle_ms=1)
        table = data.get("events").to_arrow()
        assert sorted(table.column("_message_id").to_pylist()) == sorted(ids)
        assert table.num_rows == 80
        assert pending(redis_url, stream_name, "g") == 0
    finally:
        data.close()


def test_cli_consume_runs_until_stopped(
    tmp_path: Path,
    redis_url: str,
    stream_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from modelyard.cli.app import main

    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path))
    monkeypatch.delenv("MODELYARD_DB_URL", raising=False)
    publish(redis_url, stream_name, 30)
    code = main(
        [
            "data",
            "consume",
            stream_name,
            "--dataset",
            "events",
            "--group",
            "cli",
            "--redis-url",
            redis_url,
            "--batch-size",
            "10",
            "--block-ms",
            "10",
            "--max-batches",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "stopped: 30 rows committed in 3 version(s)" in " ".join(out.split())
    assert pending(redis_url, stream_name, "cli") == 0


def test_a_stop_request_commits_what_was_read(
    data: DataClient, redis_url: str, stream_name: str
) -> None:
    publish(redis_url, stream_name, 10)
    stop = threading.Event()
    config = ConsumerConfig(stream=stream_name, group="g", batch_size=100, block_ms=50)
    with StreamConsumer(redis_url, data.sink("events"), config) as consumer:
        stats = consumer.run(stop, lambda s: stop.set())
    assert stats.committed_rows == 10
    assert data.get("events").num_rows == 10


def test_a_stream_can_be_ingested_once_as_a_source(
    data: DataClient, redis_url: str, stream_name: str
) -> None:
    ids = publish(redis_url, stream_name, 25)
    ds = data.ingest(f"{redis_url}?stream={stream_name}", "snapshot")
    assert ds.num_rows == 25
    assert ds.to_arrow().column("_message_id").to_pylist() == ids
    assert ds.source["stream"] == stream_name
    client = redis.Redis.from_url(redis_url)
    client.xadd(stream_name, {"data": "not json"})
    client.close()
    with pytest.raises(ValidationError, match="cannot become a row"):
        data.ingest(f"{redis_url}?stream={stream_name}", "snapshot")
    skipped = data.ingest(f"{redis_url}?stream={stream_name}", "other", on_bad_lines="skip")
    assert (skipped.num_rows, skipped.bad_lines) == (25, 1)
    same = data.ingest(f"{redis_url}?stream={stream_name}", "snapshot", on_bad_lines="skip")
    assert (same.version, same.content_hash) == (1, ds.content_hash)  # same rows: same version
    with pytest.raises(ValidationError, match="name the stream"):
        data.ingest(redis_url, "snapshot")
    with pytest.raises(StoreError, match=r"cannot read Redis at redis://127\.0\.0\.1:1/0"):
        data.ingest("redis://127.0.0.1:1/0?stream=x", "snapshot")


@pytest.mark.slow
def test_sigterm_stops_the_cli_consumer_after_committing(
    tmp_path: Path, redis_url: str, stream_name: str
) -> None:
    import os
    import signal
    import time

    publish(redis_url, stream_name, 40)
    env = {**os.environ, "MODELYARD_HOME": str(tmp_path), "MODELYARD_USER": "tester"}
    env.pop("MODELYARD_DB_URL", None)
    args = [
        "data",
        "consume",
        stream_name,
        "--dataset",
        "events",
        "--group",
        "term",
        "--redis-url",
        redis_url,
        "--batch-size",
        "10",
        "--block-ms",
        "50",
    ]
    child = subprocess.Popen(
        [sys.executable, "-c", "from modelyard.cli import main; main()", *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    data = make_client(f"sqlite:///{tmp_path / 'modelyard.db'}", tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if data.get("events").num_rows == 40:
                    break
            except NotFoundError:
                pass
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert "stopped: 40 rows committed" in " ".join(out.split())
        assert data.get("events").num_rows == 40
        assert pending(redis_url, stream_name, "term") == 0
    finally:
        if child.poll() is None:
            child.kill()
        data.close()
