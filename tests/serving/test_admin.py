"""The admin endpoints of two workers that share one store (in-process HTTP via httpx)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from modelyard.serving import (
    BatchingSpec,
    DeploymentSpec,
    ModelManager,
    ServerState,
    ServeSpec,
    Variant,
    build_app,
)
from modelyard.serving.admin import hash_token
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.route_sync import RouteSync
from tests.serving.conftest import ServedHome

TOKEN = "admin-history-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@asynccontextmanager
async def _worker(home: ServedHome, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """One worker as ``make_app`` wires it: refresh from the store before each change."""
    manager = ModelManager(home.registry, batching=BatchingSpec(enabled=False))
    sync = RouteSync(manager, home.registry.store)
    state = ServerState(
        manager=manager,
        metrics=ServingMetrics(),
        admin_token_sha256=hash_token(TOKEN),
        refresh=sync.sync_once,
    )
    await manager.start(ServeSpec((DeploymentSpec(name, (Variant("churn@1"),)),)))
    sync.publish_all()
    transport = httpx.ASGITransport(app=build_app(state))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await manager.aclose()


def _variants(answer: httpx.Response) -> list[tuple[str, float]]:
    assert answer.status_code == 200, answer.text
    deployment: dict[str, Any] = answer.json()["deployment"]
    return [(v["model"], v["weight"]) for v in deployment["variants"]]


def test_rollback_goes_back_one_change_whichever_worker_serves_it(
    served_home: ServedHome,
) -> None:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    base = f"/admin/deployments/{name}"

    async def main() -> None:
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(_worker(served_home, name))
            b = await stack.enter_async_context(_worker(served_home, name))
            canary = await a.post(
                base + "/canary", json={"model": "churn@2", "weight": 25}, headers=AUTH
            )
            assert _variants(canary) == [("churn@1", 75.0), ("churn@2", 25.0)]
            promoted = await b.post(base + "/promote", json={}, headers=AUTH)  # B saw the canary
            assert _variants(promoted) == [("churn@2", 100.0)]
            rolled = await a.post(base + "/rollback", headers=AUTH)
            assert _variants(rolled) == [("churn@1", 75.0), ("churn@2", 25.0)]
            again = await b.post(base + "/rollback", headers=AUTH)
            assert _variants(again) == [("churn@1", 100.0)]
            nothing = await a.post(base + "/rollback", headers=AUTH)
            assert nothing.status_code == 400
            assert "no change to roll back" in nothing.json()["error"]
            assert f"modelyard deploy set {name}" in nothing.json()["error"]
            status = (await b.get("/admin/deployments", headers=AUTH)).json()
            history = status["deployments"][name]["history"]
            assert [h["action"] for h in history] == ["rollback", "rollback", "promote", "canary"]
            assert history[0]["user"].startswith("admin token")
            unknown = await a.post("/admin/deployments/nope/rollback", headers=AUTH)
            assert unknown.status_code == 404
        served_home.registry.store.set_routes(name, [])

    asyncio.run(main())


def test_a_put_records_its_sticky_flag_for_the_other_workers(served_home: ServedHome) -> None:
    name = f"adm-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(_worker(served_home, name))
            b = await stack.enter_async_context(_worker(served_home, name))
            body = {"variants": [{"model": "churn@1", "weight": 50}, "churn@2"], "sticky": True}
            assert (await a.put(f"/admin/deployments/{name}", json=body, headers=AUTH)).is_success
            # B's next change starts from the stored state, sticky flag included.
            canary = await b.post(
                f"/admin/deployments/{name}/canary",
                json={"model": "churn@2", "weight": 10},
                headers=AUTH,
            )
            assert canary.json()["deployment"]["sticky"] is True
            stored = served_home.registry.store.get_deployment(name)
            assert stored is not None
            assert stored.sticky is True
        served_home.registry.store.set_routes(name, [])

    asyncio.run(main())
