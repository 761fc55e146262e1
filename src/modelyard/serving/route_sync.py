"""Keeping every worker process on the same routes, through the metadata store.

A change made through one worker's admin endpoint is applied there and written
to ``deployment_routes``; every worker polls that table and applies what
changed. The same rows make the registry refuse to delete a version a
deployment still routes to.
"""

from __future__ import annotations

import asyncio
import logging

from modelyard.serving.deployments import DeploymentSpec, Variant
from modelyard.serving.manager import ModelManager
from modelyard.store import ModelStore, Route

__all__ = ["RouteSync", "routes_of", "spec_of_routes"]

log = logging.getLogger("modelyard.serving")


def routes_of(spec: DeploymentSpec) -> list[Route]:
    """The store's rows for a resolved deployment (refs are ``name@version``)."""
    rows: list[Route] = []
    for i, variant in enumerate(spec.variants):
        name, _, version = variant.ref.partition("@")
        rows.append((name, int(version), "primary" if i == 0 else "canary", variant.weight))
    for ref in spec.shadows:
        name, _, version = ref.partition("@")
        rows.append((name, int(version), "shadow", 0.0))
    return rows


def spec_of_routes(name: str, routes: list[Route], *, sticky: bool) -> DeploymentSpec:
    """The deployment the store's rows describe."""
    variants = tuple(Variant(f"{m}@{v}", w) for m, v, role, w in routes if role != "shadow")
    shadows = tuple(f"{m}@{v}" for m, v, role, _w in routes if role == "shadow")
    return DeploymentSpec(name, variants, shadows, sticky)


class RouteSync:
    """Write this worker's changes to the store; apply the other workers' changes.

    Args:
        manager: This worker's models.
        store: The registry tables (``deployment_routes``).
        interval_s: How often to look for changes made elsewhere.
    """

    def __init__(
        self, manager: ModelManager, store: ModelStore, *, interval_s: float = 1.0
    ) -> None:
        self.manager = manager
        self.store = store
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def publish(self, name: str) -> None:
        """Record what ``name`` serves now (after a change in this worker)."""
        endpoint = self.manager.endpoint(name)
        self.store.set_routes(name, routes_of(endpoint.spec))

    def publish_all(self) -> None:
        """Record every ready deployment (at start-up)."""
        for name in self.manager.names():
            if self.manager.is_ready(name):
                self.publish(name)

    def start(self) -> None:
        """Start polling (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="route-sync")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def sync_once(self) -> list[str]:
        """Apply every deployment whose stored routes differ from what this worker serves."""
        loop = asyncio.get_running_loop()
        changed = []
        for name in self.manager.names():
            if not self.manager.is_ready(name):
                continue
            current = self.manager.endpoint(name).spec
            routes = await loop.run_in_executor(None, self.store.get_routes, name)
            if not routes or sorted(routes) == sorted(routes_of(current)):
                continue
            await self.manager.apply(
                spec_of_routes(name, routes, sticky=current.sticky), remember=current
            )
            changed.append(name)
        return changed

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                for name in await self.sync_once():
                    log.info("applied the routes another worker set for %s", name)
            except Exception as exc:  # noqa: BLE001 - keep serving; try again next time
                log.warning("route sync failed: %s", exc)
