"""How the server fails: load shedding, deadlines, slow and oversized bodies, hostile JSON.

In-process over real registered models (``served_home``), like ``test_app.py``: every
refusal must be a JSON error with the status its cause carries (413, 503 with
``Retry-After``, 504, 400/422), never a 500 or a hang, and the server must answer
normally right after.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, MutableMapping
from typing import Any

import httpx
import orjson
import pytest

from modelyard.serving import (
    BatchingSpec,
    DeploymentSpec,
    ModelManager,
    ServerLimits,
    ServerState,
    ServeSpec,
    Variant,
    build_app,
)
from modelyard.serving.metrics import ServingMetrics
from tests.serving.conftest import ServedHome

PREDICT = "/v1/models/churn:predict"
INFER = "/v2/models/churn/infer"
JSON_HEADERS = {"Content-Type": "application/json"}
SMALL_ERROR = 2_000  # bytes: an error answer never echoes a hostile payload back


async def _client(
    home: ServedHome, ref: str, batching: BatchingSpec, **limits: Any
) -> tuple[httpx.AsyncClient, ServerState]:
    manager = ModelManager(home.registry, batching=batching)
    state = ServerState(manager=manager, metrics=ServingMetrics(), limits=ServerLimits(**limits))
    app = build_app(state)
    await manager.start(ServeSpec((DeploymentSpec("churn", (Variant(ref),)),)))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test"), state


def run(
    home: ServedHome,
    body: Callable[[httpx.AsyncClient, ServerState], Coroutine[Any, Any, None]],
    *,
    ref: str = "churn@1",
    batching: BatchingSpec | None = None,
    **limits: Any,
) -> None:
    """Serve ``ref`` as deployment ``churn`` with ``limits`` and run ``body`` against it."""

    async def main() -> None:
        client, state = await _client(
            home, ref, batching or BatchingSpec(max_latency_ms=1.0), **limits
        )
        try:
            await body(client, state)
        finally:
            await client.aclose()
            await state.manager.aclose()

    asyncio.run(main())


def _error(answer: httpx.Response, status: int) -> str:
    """The JSON error message of an answer that must have ``status``."""
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"] == "application/json"
    assert len(answer.content) < SMALL_ERROR
    message = answer.json()["error"]
    assert isinstance(message, str)
    assert message
    return message


async def _healthy(client: httpx.AsyncClient, records: list[dict[str, object]]) -> None:
    """The server still answers a normal request with one prediction per row."""
    answer = await client.post(PREDICT, json={"records": records})
    assert answer.status_code == 200, answer.text[:500]
    assert len(answer.json()["predictions"]) == len(records)


# -- load shedding -------------------------------------------------------------------
def test_a_full_queue_sheds_load_with_503_and_retry_after(served_home: ServedHome) -> None:
    records = served_home.records("churn@1", 5)
    payload = orjson.dumps({"records": records})

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answers = await asyncio.gather(
            *(client.post(PREDICT, content=payload, headers=JSON_HEADERS) for _ in range(64))
        )
        statuses = Counter(answer.status_code for answer in answers)
        assert set(statuses) == {200, 503}, statuses
        served = [a.json()["predictions"] for a in answers if a.status_code == 200]
        assert all(p == served[0] for p in served)  # shedding never corrupts the others
        for answer in answers:
            if answer.status_code == 503:
                assert "queue of churn@1 is full" in _error(answer, 503)
                assert int(answer.headers["retry-after"]) >= 1
        after = await client.post(PREDICT, content=payload, headers=JSON_HEADERS)
        assert after.status_code == 200
        assert after.json()["predictions"] == served[0]
        metrics = (await client.get("/metrics")).text
        assert 'protocol="v1",status="503"' in metrics

    # 5-row requests, at most 10 rows waiting: 64 at once cannot all queue
    run(served_home, body, batching=BatchingSpec(max_latency_ms=1.0, max_queue_rows=10))


def test_one_request_over_the_queue_limit_is_413_not_503(served_home: ServedHome) -> None:
    records = served_home.records("churn@1", 11)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(PREDICT, json={"records": records})
        assert "exceed the queue limit of 10 rows" in _error(answer, 413)
        assert "retry-after" not in answer.headers  # retrying it would never help
        await _healthy(client, records[:10])

    run(served_home, body, batching=BatchingSpec(max_latency_ms=1.0, max_queue_rows=10))


# -- deadlines -----------------------------------------------------------------------
def test_a_prediction_over_the_deadline_is_504(served_home: ServedHome) -> None:
    # 48,000 rows through the native (pandas + scikit-learn) model take far longer than
    # 10 ms; the deadline covers the prediction only (decoding comes before it).
    rows = served_home.records("churn@2", 60) * 800
    payload = orjson.dumps({"records": rows})

    async def body(client: httpx.AsyncClient, state: ServerState) -> None:
        answer = await client.post(PREDICT, content=payload, headers=JSON_HEADERS)
        assert "no answer within 0.01s" in _error(answer, 504)
        assert answer.headers["x-request-id"]
        batcher = state.manager.endpoint("churn").variants[0].batcher
        assert batcher is not None
        for _ in range(300):  # the abandoned call finishes; its answer is dropped
            stats = batcher.stats()
            if stats.batches == 1 and stats.in_flight_rows == 0:
                break
            await asyncio.sleep(0.02)
        assert (stats.batches, stats.last_batch_rows, stats.queue_rows) == (1, 48_000, 0)
        metrics = (await client.get("/metrics")).text
        assert 'protocol="v1",status="504"' in metrics

    run(
        served_home,
        body,
        ref="churn@2",
        batching=BatchingSpec(max_latency_ms=1.0, max_queue_rows=100_000),
        request_timeout_s=0.01,
        max_body_bytes=64 * 1024 * 1024,
    )


def test_a_client_that_sends_too_slowly_gets_504(served_home: ServedHome) -> None:
    records = served_home.records("churn@1", 2)
    sent: list[bytes] = []

    async def trickle(parts: list[bytes]) -> AsyncIterator[bytes]:
        for part in parts:
            sent.append(part)
            yield part
            await asyncio.sleep(1.0)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        v1_parts = [b'{"records": ', orjson.dumps(records) + b"}"]
        started = time.perf_counter()
        answer = await client.post(PREDICT, content=trickle(v1_parts), headers=JSON_HEADERS)
        assert time.perf_counter() - started < 0.9  # the server did not wait for the client
        assert "did not arrive within 0.2s" in _error(answer, 504)
        assert sent == v1_parts[:1]
        v2 = await client.post(INFER, content=trickle([b'{"inputs": ', b"[]}"]))
        assert "did not arrive within 0.2s" in _error(v2, 504)
        await _healthy(client, records)

    run(served_home, body, read_timeout_s=0.2)


# -- size caps -----------------------------------------------------------------------
def test_a_chunked_body_over_the_cap_is_413_and_read_no_further(served_home: ServedHome) -> None:
    chunk = b" " * 65_536
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1_000):  # 64 MiB if the server kept reading
            pulled.append(i)
            yield chunk

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(PREDICT, content=endless(), headers=JSON_HEADERS)
        assert answer.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in answer.request.headers
        assert "over the 1,048,576-byte limit" in _error(answer, 413)
        assert len(pulled) == 17  # 16 chunks fill the cap exactly; the 17th crosses it
        declared = await client.post(PREDICT, content=b" " * 1_048_577, headers=JSON_HEADERS)
        assert "request body of 1,048,577 bytes is over" in _error(declared, 413)
        await _healthy(client, served_home.records("churn@1", 3))

    run(served_home, body, max_body_bytes=1_048_576)


def test_the_default_row_cap_refuses_100_001_records(served_home: ServedHome) -> None:
    payload = b'{"records": [' + b",".join([b"{}"] * 100_001) + b"]}"

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(PREDICT, content=payload, headers=JSON_HEADERS)
        assert "100001 rows, more than the 100000 allowed" in _error(answer, 413)

    run(served_home, body)


def test_a_small_row_cap_holds_for_every_request_form(served_home: ServedHome) -> None:
    records = served_home.records("churn@1", 11)
    columns = list(records[0])
    data = [[record[c] for c in columns] for record in records]
    signature = served_home.registry.get("churn@1").signature
    first = next(c["name"] for c in signature["inputs"] if c.get("used", True))

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        as_records = await client.post(PREDICT, json={"records": records})
        assert "11 rows, more than the 10 allowed" in _error(as_records, 413)
        as_table = await client.post(PREDICT, json={"columns": columns, "data": data})
        assert "11 rows, more than the 10 allowed" in _error(as_table, 413)
        # a v2 tensor that claims a vast shape is refused before its data is looked at
        claimed = {"name": first, "shape": [10**12, 1], "datatype": "FP64", "data": [1.0]}
        as_tensor = await client.post(INFER, json={"inputs": [claimed]})
        assert "1000000000000 rows, more than the 10 allowed" in _error(as_tensor, 413)
        await _healthy(client, records[:10])  # exactly at the cap is fine

    run(served_home, body, max_rows=10)


# -- hostile JSON ----------------------------------------------------------------------
HOLE = "__hostile__"
FIVE_MB = 5 * 1024 * 1024


def _with_hole(home: ServedHome, kind: str) -> bytes:
    """A one-record request whose first used ``kind`` column holds ``HOLE``."""
    record = home.records("churn@1", 1)[0]
    signature = home.registry.get("churn@1").signature
    name = next(c["name"] for c in signature["inputs"] if c.get("used", True) and c["kind"] == kind)
    record[name] = HOLE
    return orjson.dumps({"records": [record]})


def _fill(home: ServedHome, kind: str, value: bytes) -> bytes:
    return _with_hole(home, kind).replace(orjson.dumps(HOLE), value)


HOSTILE: dict[str, tuple[int, Callable[[ServedHome], bytes]]] = {
    "nested 100k deep": (400, lambda _h: b"[" * 100_000 + b"]" * 100_000),
    "nested in records": (400, lambda _h: b'{"records": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"),
    "nested 500 deep in a value": (
        422,
        lambda h: _fill(h, "numeric", b"[" * 500 + b"1" + b"]" * 500),
    ),
    "object as a value": (422, lambda h: _fill(h, "categorical", b'{"a": {"b": [1, 2]}}')),
    "NaN literal": (400, lambda h: _fill(h, "numeric", b"NaN")),
    "Infinity literal": (400, lambda h: _fill(h, "numeric", b"-Infinity")),
    "number that overflows": (400, lambda h: _fill(h, "numeric", b"1e999")),
    "400-digit integer": (400, lambda h: _fill(h, "numeric", b"9" * 400)),
    "5 MB string in a numeric column": (
        422,
        lambda h: _fill(h, "numeric", orjson.dumps("9" * FIVE_MB)),
    ),
    "5 MB string in a datetime column": (
        422,
        lambda h: _fill(h, "datetime", orjson.dumps("2024-" * (FIVE_MB // 5))),
    ),
    "5 MB column name": (
        422,
        lambda h: orjson.dumps({"records": [{"x" * FIVE_MB: 1, **h.records("churn@1", 1)[0]}]}),
    ),
    "lone surrogate": (400, lambda h: _fill(h, "categorical", b'"\\ud800"')),
    "invalid UTF-8": (400, lambda h: _fill(h, "categorical", b'"\xff\xfe"')),
    "empty body": (400, lambda _h: b""),
    "top-level array": (400, lambda _h: b"[1, 2, 3]"),
    "records is an object": (400, lambda _h: b'{"records": {"age": 1}}'),
    "no rows": (400, lambda _h: b'{"records": []}'),
    "a row that is a number": (400, lambda _h: b'{"records": [{}, 7]}'),
    "5 MB name in columns": (
        422,
        lambda _h: orjson.dumps({"columns": ["x" * FIVE_MB], "data": [[1]]}),
    ),
    "a data row too short": (400, lambda _h: b'{"columns": ["age", "plan"], "data": [[1]]}'),
    "a column named twice": (400, lambda _h: b'{"columns": ["age", "age"], "data": [[1, 2]]}'),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_json_gets_a_json_error_never_500(served_home: ServedHome, case: str) -> None:
    status, build = HOSTILE[case]
    payload = build(served_home)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(PREDICT, content=payload, headers=JSON_HEADERS)
        _error(answer, status)
        await _healthy(client, served_home.records("churn@1", 2))

    run(served_home, body)


def test_a_5_mb_category_is_served_and_not_echoed(served_home: ServedHome) -> None:
    # An unseen level is a legal value (the encoder ignores unknown levels); size alone
    # is bounded by max_body_bytes, not by a per-value rule.
    payload = _fill(served_home, "categorical", orjson.dumps("z" * FIVE_MB))

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(PREDICT, content=payload, headers=JSON_HEADERS)
        assert answer.status_code == 200, answer.text[:500]
        assert len(answer.content) < SMALL_ERROR
        assert len(answer.json()["predictions"]) == 1

    run(served_home, body)


V2_HOSTILE: dict[str, tuple[int, bytes]] = {
    "nested data": (
        422,
        b'{"inputs": [{"name": "age", "shape": [1, 1], "datatype": "FP64", "data": '
        + b"[" * 500
        + b"1"
        + b"]" * 500
        + b"}]}",
    ),
    "NaN in data": (
        400,
        b'{"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [NaN]}]}',
    ),
    "negative shape": (
        400,
        b'{"inputs": [{"name": "age", "shape": [-5, 1], "datatype": "FP64", "data": [1]}]}',
    ),
    "vast second dimension": (
        400,
        b'{"inputs": [{"name": "age", "shape": [1, 1000000000000], "datatype": "FP64", '
        b'"data": [1]}]}',
    ),
    "shape of floats": (
        400,
        b'{"inputs": [{"name": "age", "shape": [1.5], "datatype": "FP64", "data": [1]}]}',
    ),
    "unknown datatype": (
        400,
        b'{"inputs": [{"name": "age", "shape": [1], "datatype": "FP128", "data": [1]}]}',
    ),
    "binary size past the body": (
        400,
        b'{"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", '
        b'"parameters": {"binary_data_size": 1000000000}}]}',
    ),
    "inputs not a list": (400, b'{"inputs": "age"}'),
    "bad header length": (400, b'{"inputs": []}'),
}


@pytest.mark.parametrize("case", list(V2_HOSTILE))
def test_hostile_v2_requests_get_a_json_error_never_500(served_home: ServedHome, case: str) -> None:
    status, payload = V2_HOSTILE[case]
    headers = {"Inference-Header-Content-Length": "-3"} if case == "bad header length" else {}

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post(INFER, content=payload, headers=headers)
        _error(answer, status)
        await _healthy(client, served_home.records("churn@1", 2))

    run(served_home, body)


# -- a client that goes away ---------------------------------------------------------
def test_a_client_that_disconnects_mid_body_is_not_a_server_error(
    served_home: ServedHome, caplog: pytest.LogCaptureFixture
) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"records": [', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PREDICT, "raw_path": PREDICT.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000), "server": ("test", 80),
    }  # fmt: skip
    metrics: list[str] = []

    async def body(client: httpx.AsyncClient, state: ServerState) -> None:
        # the raw ASGI call, as uvicorn makes it when the peer closes mid-upload
        await build_app(state)(scope, receive, send)
        await _healthy(client, served_home.records("churn@1", 2))
        metrics.extend((await client.get("/metrics")).text.splitlines())

    run(served_home, body)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(status < 500 for status in statuses)  # nobody reads it; metrics and logs do
    assert not [line for line in metrics if 'status="500"' in line]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
