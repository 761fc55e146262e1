"""The ASGI app end to end over real registered models (in-process HTTP via httpx)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
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
from modelyard.serving.admin import hash_token
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.prediction_log import FeedbackLog, PredictionLog
from tests.serving.conftest import ServedHome

TOKEN = "s3cret-admin-token"


def _spec(*deployments: DeploymentSpec) -> ServeSpec:
    return ServeSpec(deployments or (DeploymentSpec("churn", (Variant("churn@1"),)),))


async def _client(
    home: ServedHome, tmp_path: Path, spec: ServeSpec, **limits: Any
) -> tuple[httpx.AsyncClient, ServerState]:
    manager = ModelManager(home.registry, batching=BatchingSpec(max_latency_ms=1.0))
    state = ServerState(
        manager=manager,
        metrics=ServingMetrics(),
        limits=ServerLimits(**limits),
        prediction_log=PredictionLog(tmp_path / "predictions", flush_interval_s=0.05),
        feedback_log=FeedbackLog(tmp_path / "feedback", flush_interval_s=0.05),
        admin_token_sha256=hash_token(TOKEN),
    )
    app = build_app(state)
    await manager.start(spec)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test"), state


def run(
    home: ServedHome,
    tmp_path: Path,
    body: Callable[[httpx.AsyncClient, ServerState], Coroutine[Any, Any, None]],
    spec: ServeSpec | None = None,
    **limits: Any,
) -> None:
    async def main() -> None:
        client, state = await _client(home, tmp_path, spec or _spec(), **limits)
        try:
            await body(client, state)
        finally:
            await client.aclose()
            await state.manager.aclose()
            for sink in (state.prediction_log, state.feedback_log):
                if sink is not None:
                    sink.close()

    asyncio.run(main())


def test_health_metadata_and_predictions(served_home: ServedHome, tmp_path: Path) -> None:
    records = served_home.records("churn@1", 5)
    expected = served_home.registry.load("churn@1").predict_proba(
        served_home.inputs("churn@1").head(5)
    )

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        assert (await client.get("/v2/health/live")).json() == {"live": True}
        assert (await client.get("/v2/health/ready")).status_code == 200
        assert "binary_tensor_data" in (await client.get("/v2")).json()["extensions"]
        meta = (await client.get("/v2/models/churn")).json()
        assert meta["platform"] == "onnxruntime_onnx"
        assert (await client.get("/v2/models/churn/versions/1/ready")).status_code == 200
        answer = await client.post(
            "/v1/models/churn:predict", json={"records": records}, headers={"X-Request-Id": "abc"}
        )
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        assert doc["request_id"] == "abc"
        assert answer.headers["x-request-id"] == "abc"
        assert (doc["model"], doc["version"]) == ("churn", 1)
        np.testing.assert_allclose(doc["probabilities"], expected, atol=1e-5)
        columns = list(records[0])
        data = [[r[c] for c in columns] for r in records]
        by_columns = (
            await client.post("/v1/models/churn:predict", json={"columns": columns, "data": data})
        ).json()
        assert by_columns["predictions"] == doc["predictions"]

    run(served_home, tmp_path, body)


def test_the_framework_routes_answer_like_the_fast_path(
    served_home: ServedHome, tmp_path: Path
) -> None:
    """ServingApp answers the inference routes itself; Starlette's routes for the same
    paths (what runs when the app is mounted without it) answer the same, and other
    methods get 405."""
    records = served_home.records("churn@1", 3)
    v2 = {"inputs": [{"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str)
                      else "FP64", "data": [v]} for k, v in records[0].items()
                     if v is not None]}  # fmt: skip

    async def body(client: httpx.AsyncClient, state: ServerState) -> None:
        framework = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_app(state).app), base_url="http://test"
        )
        async with framework:
            answers = []
            for c in (client, framework):
                answer = await c.post("/v1/models/churn:predict", json={"records": records})
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["predictions"]) == 3
                assert answer.headers["content-type"] == "application/json"
                assert int(answer.headers["content-length"]) == len(answer.content)
                infer = await c.post("/v2/models/churn/versions/1/infer", json=v2)
                answers.append((answer.json()["probabilities"], infer.status_code, infer.json()))
                assert (await c.get("/v1/models/churn:predict")).status_code == 405
                assert (await c.get("/v2/models/churn/infer")).status_code == 405
                assert (await c.post("/v1/models/a/b:predict", json={})).status_code == 404
            assert answers[0] == answers[1]
            first = await client.post("/v1/models/churn:predict", json={"records": records})
            second = await client.post("/v1/models/churn:predict", json={"records": records})
            ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
            assert len(ids) == 2
            assert all(16 < len(i) <= 40 for i in ids)

    run(served_home, tmp_path, body)


def test_bad_requests_get_clear_json_errors(served_home: ServedHome, tmp_path: Path) -> None:
    record = served_home.records("churn@1", 1)[0]

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        missing = {k: v for k, v in record.items() if k != "plan"} | {"surprise": 1}
        answer = await client.post("/v1/models/churn:predict", json={"records": [missing]})
        assert answer.status_code == 422
        doc = answer.json()
        assert "plan" in doc["error"]
        assert doc["details"]["missing"] == ["plan"]
        assert doc["details"]["extra"] == ["surprise"]
        broken = await client.post("/v1/models/churn:predict", content=b'{"records": [')
        assert broken.status_code == 400
        assert "not valid JSON" in broken.json()["error"]
        unknown = await client.post("/v1/models/nope:predict", json={"records": [record]})
        assert unknown.status_code == 404
        assert "served: churn" in unknown.json()["error"]
        huge = await client.post("/v1/models/churn:predict", content=b"x" * 5000)
        assert huge.status_code == 413
        version = await client.post("/v2/models/churn/versions/7/infer", json={"inputs": []})
        assert version.status_code == 404

    run(served_home, tmp_path, body, max_body_bytes=4096)


def test_v2_infer_matches_the_registry(served_home: ServedHome, tmp_path: Path) -> None:
    frame = served_home.inputs("churn@1").head(4)
    expected = served_home.registry.load("churn@1").predict_proba(frame)
    records = served_home.records("churn@1", 4)
    signature = served_home.registry.get("churn@1").signature
    kinds = {c["name"]: c["kind"] for c in signature["inputs"] if c.get("used", True)}
    datatype = {"numeric": "FP64", "boolean": "BOOL", "categorical": "BYTES", "datetime": "BYTES"}
    inputs = [
        {"name": n, "shape": [4, 1], "datatype": datatype[k], "data": [r[n] for r in records]}
        for n, k in kinds.items()
    ]

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        answer = await client.post("/v2/models/churn/infer", json={"id": "r1", "inputs": inputs})
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        assert doc["id"] == "r1"
        outputs = {o["name"]: o for o in doc["outputs"]}
        probabilities = np.asarray(outputs["probabilities"]["data"]).reshape(4, 2)
        np.testing.assert_allclose(probabilities, expected, atol=1e-5)

    run(served_home, tmp_path, body)


def test_metrics_feedback_and_the_prediction_log(served_home: ServedHome, tmp_path: Path) -> None:
    records = served_home.records("churn@1", 3)

    async def body(client: httpx.AsyncClient, state: ServerState) -> None:
        answer = await client.post(
            "/v1/models/churn:predict", json={"records": records}, headers={"X-Request-Id": "log-1"}
        )
        assert answer.status_code == 200
        fed = await client.post("/v1/feedback", json={"request_id": "log-1", "label": 1})
        assert fed.json() == {"accepted": 1}
        bad = await client.post("/v1/feedback", json={"label": 1})
        assert bad.status_code == 400
        text = (await client.get("/metrics")).text
        assert (
            'modelyard_requests_total{model="churn",protocol="v1",status="200",version="1"}' in text
        )
        assert "modelyard_batch_size" in text
        assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.")
        assert state.prediction_log is not None

    run(served_home, tmp_path, body)
    files = list((tmp_path / "predictions").rglob("*.parquet"))
    table = pq.read_table(files[0])
    assert table.num_rows == 3
    assert set(table.column("request_id").to_pylist()) == {"log-1"}
    assert list((tmp_path / "feedback").rglob("*.parquet"))


def test_admin_needs_the_token_and_changes_traffic(served_home: ServedHome, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    records = served_home.records("churn@1", 1)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        assert (await client.get("/admin/deployments")).status_code == 401
        wrong = await client.get("/admin/deployments", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        canary = await client.post(
            "/admin/deployments/churn/canary", json={"model": "churn@2", "weight": 50}, headers=auth
        )
        assert canary.status_code == 200, canary.text
        assert [v["weight"] for v in canary.json()["deployment"]["variants"]] == [50.0, 50.0]
        versions = set()
        for _ in range(40):
            doc = (await client.post("/v1/models/churn:predict", json={"records": records})).json()
            versions.add(doc["version"])
        assert versions == {1, 2}
        promoted = await client.post("/admin/deployments/churn/promote", json={}, headers=auth)
        assert promoted.json()["deployment"]["variants"] == [{"model": "churn@2", "weight": 100.0}]
        rolled = await client.post("/admin/deployments/churn/rollback", headers=auth)
        assert len(rolled.json()["deployment"]["variants"]) == 2
        bad = await client.post(
            "/admin/deployments/churn/canary",
            json={"model": "churn@2", "weight": 150},
            headers=auth,
        )
        assert bad.status_code == 400

    run(served_home, tmp_path, body)


def test_sticky_routing_keeps_a_key_on_one_variant(served_home: ServedHome, tmp_path: Path) -> None:
    spec = _spec(
        DeploymentSpec("churn", (Variant("churn@1", 50), Variant("churn@2", 50)), sticky=True)
    )
    records = served_home.records("churn@1", 1)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        for key in ("user-1", "user-2", "user-3"):
            seen = set()
            for _ in range(10):
                answer = await client.post(
                    "/v1/models/churn:predict",
                    json={"records": records},
                    headers={"X-Routing-Key": key},
                )
                seen.add(answer.json()["version"])
            assert len(seen) == 1

    run(served_home, tmp_path, body, spec=spec)


def test_a_model_that_fails_to_load_is_not_ready_alone(
    served_home: ServedHome, tmp_path: Path
) -> None:
    spec = _spec(
        DeploymentSpec("churn", (Variant("churn@1"),)),
        DeploymentSpec("ghost", (Variant("churn@99"),)),
    )
    records = served_home.records("churn@1", 1)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        assert (await client.get("/v2/health/ready")).status_code == 503
        assert (await client.get("/v2/models/ghost/ready")).status_code == 503
        assert "no version 99" in (await client.get("/v2/models/ghost")).json()["error"]
        answer = await client.post("/v1/models/churn:predict", json={"records": records})
        assert answer.status_code == 200

    run(served_home, tmp_path, body, spec=spec)


def test_shadows_answer_nothing_but_are_logged(served_home: ServedHome, tmp_path: Path) -> None:
    spec = _spec(DeploymentSpec("churn", (Variant("churn@1"),), shadows=("churn@2",)))
    records = served_home.records("churn@1", 2)

    async def body(client: httpx.AsyncClient, _state: ServerState) -> None:
        doc = (await client.post("/v1/models/churn:predict", json={"records": records})).json()
        assert doc["version"] == 1
        await asyncio.sleep(0.2)  # the shadow call runs after the answer

    run(served_home, tmp_path, body, spec=spec)
    versions = set()
    for path in (tmp_path / "predictions").rglob("*.parquet"):
        versions |= set(pq.read_table(path).column("version").to_pylist())
    assert versions == {1, 2}


@pytest.mark.slow
def test_ten_hot_swaps_under_load_fail_no_request(served_home: ServedHome, tmp_path: Path) -> None:
    records = served_home.records("churn@1", 2)
    one = DeploymentSpec("churn", (Variant("churn@1"),))
    two = DeploymentSpec("churn", (Variant("churn@2"),))

    async def body(client: httpx.AsyncClient, state: ServerState) -> None:
        statuses: list[int] = []
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                answer = await client.post("/v1/models/churn:predict", json={"records": records})
                statuses.append(answer.status_code)

        workers = [asyncio.create_task(load()) for _ in range(8)]
        for i in range(10):
            await state.manager.apply(two if i % 2 == 0 else one)
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        assert len(statuses) > 50
        assert set(statuses) == {200}

    run(served_home, tmp_path, body)
