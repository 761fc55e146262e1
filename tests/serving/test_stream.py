"""Stream inference against a real Redis: answers, dead letters, sharing, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.exceptions import ConfigError, StoreError
from modelyard.serving.stream import StreamPredictor, StreamStats
from tests.serving.conftest import ServedHome

pytestmark = pytest.mark.redis

REPO_ROOT = Path(__file__).resolve().parents[2]
Make = Callable[..., StreamPredictor]

# A consumer in a child process that runs until it is killed.
CHILD = """
import sys
from modelyard.config import load_settings
from modelyard.registry import ModelRegistry
from modelyard.serving.stream import StreamPredictor

home, url, source, sink = sys.argv[1:]
registry = ModelRegistry.from_settings(load_settings(home=home))
StreamPredictor(registry, "churn@1", redis_url=url, source_stream=source, sink_stream=sink,
                group="g", consumer="victim", batch_size=25, block_ms=50).run()
"""


@pytest.fixture
def r(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def sink(r: Any, stream_name: str) -> Iterator[str]:
    name = f"{stream_name}:out"
    yield name
    r.delete(name)


@pytest.fixture
def make(served_home: ServedHome, redis_url: str, stream_name: str, sink: str) -> Iterator[Make]:
    made: list[StreamPredictor] = []

    def build(ref: str = "churn@1", **options: Any) -> StreamPredictor:
        settings: dict[str, Any] = {"group": "g", "consumer": "c1", "block_ms": 20, **options}
        predictor = StreamPredictor(
            served_home.registry,
            ref,
            redis_url=redis_url,
            source_stream=stream_name,
            sink_stream=sink,
            **settings,
        )
        made.append(predictor)
        return predictor

    yield build
    for predictor in made:
        predictor.close()


def add_rows(r: Any, stream: str, records: list[dict[str, Any]]) -> list[str]:
    return [r.xadd(stream, {"data": json.dumps(record)}).decode() for record in records]


def drain(predictor: StreamPredictor) -> StreamStats:
    while predictor.poll_once():
        pass
    return predictor.stats


def answers(r: Any, sink: str) -> list[dict[str, Any]]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in r.xrange(sink)]


def probabilities(home: ServedHome, ref: str, rows: int) -> Any:
    return home.registry.load(ref).predict_proba(home.inputs(ref).head(rows))


def test_answers_match_the_registry_and_inputs_are_acked(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    ids = add_rows(r, stream_name, served_home.records("churn@1", 40))
    stats = drain(make(batch_size=16))
    out = answers(r, sink)
    assert [a["id"] for a in out] == ids
    assert {(a["model"], a["version"]) for a in out} == {("churn", "1")}
    got = np.array([list(json.loads(a["probabilities"]).values()) for a in out])
    expected = probabilities(served_home, "churn@1", 40)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    labels = served_home.registry.load("churn@1").predict(served_home.inputs("churn@1").head(40))
    assert [json.loads(a["prediction"]) for a in out] == labels.tolist()
    assert set(json.loads(out[0]["probabilities"])) == {"0", "1"}
    assert (stats.read, stats.predicted, stats.dead_lettered, stats.batches) == (40, 40, 0, 3)
    assert stats.last_id == ids[-1]
    assert r.xpending(stream_name, "g")["pending"] == 0


def test_flat_text_fields_are_parsed_by_the_signature(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    records = served_home.records("churn@1", 5)
    for record in records:
        flat = {k: "" if v is None else json.dumps(v).strip('"') for k, v in record.items()}
        flat["customer"] = "ignored: the model does not know this field"
        r.xadd(stream_name, flat)
    drain(make())
    got = np.array([list(json.loads(a["probabilities"]).values()) for a in answers(r, sink)])
    np.testing.assert_allclose(got, probabilities(served_home, "churn@1", 5), atol=1e-6)


def test_a_regressor_answers_values(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    add_rows(r, stream_name, served_home.records("charges@1", 10))
    drain(make("charges@1"))
    out = answers(r, sink)
    assert "probabilities" not in out[0]
    expected = served_home.registry.load("charges@1").predict(served_home.inputs("charges@1"))
    got = [json.loads(a["prediction"]) for a in out]
    np.testing.assert_allclose(got, expected[:10], rtol=1e-5)


def test_unfit_messages_are_dead_lettered_with_the_reason_and_the_rest_answered(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    good = served_home.records("churn@1", 3)
    wrong_type = {**good[0], "age": "forty"}
    no_age = {k: v for k, v in good[1].items() if k != "age"}
    ids = [
        r.xadd(stream_name, {"data": json.dumps(good[0])}),
        r.xadd(stream_name, {"data": "{not json"}),
        r.xadd(stream_name, {"data": "[1, 2]"}),
        r.xadd(stream_name, {"data": json.dumps(wrong_type)}),
        r.xadd(stream_name, {"data": json.dumps(no_age)}),
        r.xadd(stream_name, {b"age": b"\xff\xfe"}),
        r.xadd(stream_name, {"data": json.dumps({**good[2], "tenure_months": float("nan")})}),
        r.xadd(stream_name, {"data": json.dumps(good[2])}),
    ]
    stats = drain(make())
    assert [a["id"] for a in answers(r, sink)] == [ids[0].decode(), ids[-1].decode()]
    letters = {
        fields[b"id"].decode(): fields for _, fields in r.xrange(f"{stream_name}:dead-letter")
    }
    reasons = {mid: letters[mid.decode()][b"reason"].decode() for mid in ids[1:-1]}
    assert "not valid JSON" in reasons[ids[1]]
    assert "not a JSON object" in reasons[ids[2]]
    assert "column 'age'" in reasons[ids[3]]
    assert "'forty'" in reasons[ids[3]]
    assert "missing column(s) 'age'" in reasons[ids[4]]
    assert "not valid UTF-8" in reasons[ids[5]]
    assert "nan" in reasons[ids[6]].lower()
    assert letters[ids[1].decode()][b"field:data"] == b"{not json"
    assert letters[ids[1].decode()][b"group"] == b"g"
    assert (stats.predicted, stats.dead_lettered) == (2, 6)
    assert r.xpending(stream_name, "g")["pending"] == 0


def test_a_message_with_thousands_of_fields_is_dead_lettered_in_brief(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    junk = r.xadd(stream_name, {f"f{i}": "x" * 10 for i in range(5000)})
    add_rows(r, stream_name, served_home.records("churn@1", 2))
    stats = drain(make())
    ((_, letter),) = r.xrange(f"{stream_name}:dead-letter")
    assert letter[b"id"] == junk
    assert letter[b"fields_omitted"] == b"4800"
    assert sum(name.startswith(b"field:") for name in letter) == 200
    assert (stats.predicted, stats.dead_lettered) == (2, 1)


def test_two_consumers_in_one_group_share_the_work_without_duplicates(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    records = served_home.records("churn@1") * 4  # 240 messages
    ids = add_rows(r, stream_name, records)
    first, second = make(consumer="a", batch_size=30), make(consumer="b", batch_size=30)
    while first.poll_once() + second.poll_once():
        pass
    counts = Counter(a["id"] for a in answers(r, sink))
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert first.stats.predicted == second.stats.predicted == 120


def test_a_restart_under_the_same_name_answers_its_pending_messages_first(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    ids = add_rows(r, stream_name, served_home.records("churn@1", 30))
    r.xgroup_create(stream_name, "g", id="0")
    r.xreadgroup("g", "c1", {stream_name: ">"}, count=20)  # delivered, then the process died
    stats = drain(make(claim_idle_ms=3_600_000, batch_size=8))
    assert [a["id"] for a in answers(r, sink)] == ids
    assert (stats.read, stats.reclaimed) == (30, 0)
    assert r.xpending(stream_name, "g")["pending"] == 0


def test_messages_of_a_dead_consumer_are_reclaimed_once_idle(
    served_home: ServedHome, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    ids = add_rows(r, stream_name, served_home.records("churn@1", 10))
    r.xgroup_create(stream_name, "g", id="0")
    r.xreadgroup("g", "dead", {stream_name: ">"}, count=6)
    patient = make(consumer="patient", claim_idle_ms=60_000)
    assert drain(patient).read == 4  # the dead one's six are not idle long enough yet
    time.sleep(0.15)
    rescuer = make(consumer="rescuer", claim_idle_ms=100)
    assert (drain(rescuer).reclaimed, rescuer.stats.predicted) == (6, 6)
    assert sorted(a["id"] for a in answers(r, sink)) == sorted(ids)


def test_a_slow_consumer_whose_messages_were_taken_over_does_not_answer_them(
    served_home: ServedHome, redis_url: str, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    ids = add_rows(r, stream_name, served_home.records("churn@1", 12))

    class Overtaken(StreamPredictor):
        """Another consumer claims the batch while this one is still predicting it."""

        def _answer(self, messages: list[Any]) -> tuple[int, int, int]:
            mine = [mid for mid, _ in messages]
            r.xclaim(stream_name, "g", "fast", 0, mine)
            return super()._answer(messages)

    slow = Overtaken(
        served_home.registry,
        "churn@1",
        redis_url=redis_url,
        source_stream=stream_name,
        sink_stream=sink,
        group="g",
        consumer="slow",
        block_ms=20,
    )
    try:
        stats = drain(slow)
    finally:
        slow.close()
    assert (stats.read, stats.predicted, stats.lost) == (12, 0, 12)
    assert answers(r, sink) == []
    fast = make(consumer="fast")
    assert drain(fast).predicted == 12
    assert [a["id"] for a in answers(r, sink)] == ids


@pytest.mark.slow  # a child Python process: ~3 s on a busy machine
def test_a_consumer_killed_mid_run_loses_and_repeats_nothing(
    served_home: ServedHome, redis_url: str, r: Any, stream_name: str, sink: str, make: Make
) -> None:
    ids = add_rows(r, stream_name, served_home.records("churn@1") * 25)  # 1,500 messages
    home = Path(served_home.registry.store.engine.url.database or "").parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), redis_url, stream_name, sink],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while r.xlen(sink) < 100 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        assert child.stderr is not None
        errors = child.stderr.read().decode()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors
    before = r.xlen(sink)
    assert 100 <= before < len(ids)

    stats = drain(make(consumer="victim", batch_size=700))  # > one commit slice
    counts = Counter(a["id"] for a in answers(r, sink))
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert stats.predicted == len(ids) - before
    assert r.xpending(stream_name, "g")["pending"] == 0


def test_bad_settings_are_config_errors(served_home: ServedHome, stream_name: str) -> None:
    base: dict[str, Any] = {
        "redis_url": "redis://127.0.0.1:6379/0",
        "source_stream": stream_name,
        "sink_stream": "out",
        "group": "g",
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sink_stream": stream_name}, "must differ"),
        ({"sink_stream": ""}, "non-empty"),
        ({"batch_size": 0}, "batch_size=0 is out of range"),
        ({"group": ""}, "group must be a non-empty string"),
        ({"redis_url": "http://x"}, "invalid Redis URL"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError, match=message):
            StreamPredictor(served_home.registry, "churn@1", **{**base, **change})


def test_an_unreachable_redis_is_a_store_error_without_the_password(
    served_home: ServedHome,
) -> None:
    with pytest.raises(StoreError, match="cannot reach Redis") as caught:
        StreamPredictor(
            served_home.registry,
            "churn@1",
            redis_url="redis://:s3cret@127.0.0.1:1/0",
            source_stream="in",
            sink_stream="out",
            group="g",
        )
    assert "s3cret" not in str(caught.value)


def test_a_key_that_is_not_a_stream_is_a_store_error(
    served_home: ServedHome, r: Any, stream_name: str, make: Make
) -> None:
    r.set(stream_name, "a string")
    with pytest.raises(StoreError, match="not a stream"):
        make()
