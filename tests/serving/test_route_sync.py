"""Workers that share one store: routes, sticky flags and the rollback history.

Each test uses its own deployment name over the shared registry (``served_home``)
and removes its routes at the end, so the shared home keeps serving the others.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.serving import BatchingSpec, DeploymentSpec, ModelManager, ServeSpec, Variant
from modelyard.serving.deployments import make_deployment
from modelyard.serving.route_sync import RouteSync, describe_change
from modelyard.store import DeploymentChange, ModelStore
from modelyard.store.schema import deployment_changes
from tests.serving.conftest import ServedHome

CANARY = [("churn@1", 75.0), ("churn@2", 25.0)]


def _served(sync: RouteSync, name: str) -> list[tuple[str, float]]:
    return [(v.ref, v.weight) for v in sync.manager.endpoint(name).spec.variants]


@asynccontextmanager
async def _workers(home: ServedHome, name: str, count: int) -> AsyncIterator[list[RouteSync]]:
    """``count`` workers serving ``name`` (started like a server: load, then publish)."""
    spec = ServeSpec((DeploymentSpec(name, (Variant("churn@1"),)),))
    syncs = []
    try:
        for _ in range(count):
            manager = ModelManager(home.registry, batching=BatchingSpec(enabled=False))
            await manager.start(spec)
            sync = RouteSync(manager, home.registry.store)
            sync.publish_all()
            syncs.append(sync)
        yield syncs
    finally:
        for sync in syncs:
            await sync.manager.aclose()
        home.registry.store.set_routes(name, [])


def run(body: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body(f"rs-{uuid.uuid4().hex[:8]}"))


def test_a_rollback_through_a_worker_that_skipped_the_canary(served_home: ServedHome) -> None:
    """The multi-worker bug: worker B never served the canary, yet rolls back to it."""

    async def body(name: str) -> None:
        async with _workers(served_home, name, 2) as (a, b):
            assert served_home.registry.store.list_changes(name) == []  # first routes
            await a.change(make_deployment(name, CANARY), action="canary", user="ana")
            await a.change(make_deployment(name, [("churn@2", 100.0)]), action="promote")
            assert await b.sync_once() == [name]  # straight to the promoted state
            assert _served(b, name) == [("churn@2", 100.0)]
            rolled = await b.rollback(name, user="bo")
            assert [(v.ref, v.weight) for v in rolled.spec.variants] == CANARY
            assert await a.sync_once() == [name]
            assert _served(a, name) == CANARY
            # Again, through the other worker: one more step back.
            await a.rollback(name)
            assert _served(a, name) == [("churn@1", 100.0)]
            assert await b.sync_once() == [name]
            with pytest.raises(ValidationError, match="no change to roll back") as caught:
                await b.rollback(name)
            assert f"modelyard deploy set {name} --model" in str(caught.value)
            history = [describe_change(c) for c in served_home.registry.store.list_changes(name)]
            assert [(h["action"], h["undone_at"] is not None) for h in history] == [
                ("rollback", False),
                ("rollback", False),
                ("promote", True),
                ("canary", True),
            ]
            assert history[1]["user"] == "bo"
            assert history[1]["replaced"]["variants"] == [{"model": "churn@2", "weight": 100.0}]

    run(body)


def test_workers_follow_the_stored_sticky_flag(served_home: ServedHome) -> None:
    async def body(name: str) -> None:
        async with _workers(served_home, name, 2) as (a, b):
            await a.change(make_deployment(name, CANARY, sticky=True), action="canary")
            assert await b.sync_once() == [name]
            assert b.manager.endpoint(name).spec.sticky is True
            # The flag alone is a change too, and a rollback restores it.
            await a.change(make_deployment(name, CANARY, sticky=False), action="set")
            assert await b.sync_once() == [name]
            assert b.manager.endpoint(name).spec.sticky is False
            await b.rollback(name)
            assert await a.sync_once() == [name]
            assert a.manager.endpoint(name).spec.sticky is True
            assert await a.sync_once() == []  # nothing left to apply

    run(body)


def test_a_restart_with_other_models_can_be_rolled_back(served_home: ServedHome) -> None:
    async def body(name: str) -> None:
        # What an earlier server left: its routes (and no history).
        served_home.registry.store.set_routes(name, [("churn", 2, "primary", 100.0)])
        async with _workers(served_home, name, 2) as (a, b):  # restarted with churn@1
            [start] = served_home.registry.store.list_changes(name)
            assert (start.action, start.user) == ("start", "server start-up")
            assert await b.sync_once() == []
            await a.rollback(name)
            assert _served(a, name) == [("churn@2", 100.0)]

    run(body)


def test_a_rollback_that_loses_the_race_changes_nothing(
    served_home: ServedHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(name: str) -> None:
        async with _workers(served_home, name, 2) as (a, b):
            await a.change(make_deployment(name, CANARY), action="canary")
            b.store = ModelStore(served_home.registry.store.engine, migrate=False)
            looked = b.store.list_changes

            def look_then_lose(*args: Any, **kwargs: Any) -> list[DeploymentChange]:
                found = looked(*args, **kwargs)
                # Another worker promotes between B's look and B's rollback.
                a.store.record_change(name, [("churn", 2, "primary", 100.0)], sticky=False,
                                      action="promote")  # fmt: skip
                return found

            monkeypatch.setattr(b.store, "list_changes", look_then_lose)
            with pytest.raises(ConflictError, match="changed while this rollback was prepared"):
                await b.rollback(name)
            assert _served(b, name) == [("churn@2", 100.0)]  # what the store says
            assert served_home.registry.store.get_routes(name) == [("churn", 2, "primary", 100.0)]

    run(body)


def test_a_rollback_to_a_missing_version_says_so(served_home: ServedHome) -> None:
    async def body(name: str) -> None:
        async with _workers(served_home, name, 1) as (a,):
            a.store.record_change(
                name, [("churn", 2, "primary", 100.0)], sticky=False, action="set"
            )
            # Written by hand: a history entry naming a version that no longer exists.
            with a.store.engine.begin() as conn:
                conn.execute(
                    deployment_changes.update()
                    .where(deployment_changes.c.deployment == name)
                    .values(routes='[["churn", 99, "primary", 100.0]]')
                )
            await a.sync_once()
            with pytest.raises(NotFoundError, match=f"cannot roll back '{name}' to churn@99"):
                await a.rollback(name)
            assert _served(a, name) == [("churn@2", 100.0)]
            assert len(a.store.list_changes(name, undoable=True)) == 1

    run(body)
