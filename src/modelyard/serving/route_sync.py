"""Keeping every worker process on the same routes, with one history, in the metadata store.

An admin change is applied in the worker that received it, then recorded in
one transaction: the routes it replaces go to the deployment's history
(``deployment_changes``), the new routes and sticky flag to
``deployment_routes`` and ``deployments``. Every worker polls those and applies
what changed. A rollback takes the newest entry of the *stored* history, so it
lands on the same state whichever worker serves the request, including one
that never served that state itself (it synced straight past a canary, say).
The same rows make the registry refuse to delete a version that serves traffic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from modelyard.exceptions import NotFoundError, ValidationError
from modelyard.serving.deployments import DeploymentSpec, Variant
from modelyard.serving.manager import Endpoint, ModelManager
from modelyard.store import DeploymentChange, ModelStore, Route

__all__ = ["RouteSync", "describe_change", "routes_of", "spec_of_routes"]

log = logging.getLogger("modelyard.serving")

T = TypeVar("T")


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


def spec_of_routes(name: str, routes: Sequence[Route], *, sticky: bool) -> DeploymentSpec:
    """The deployment the store's rows describe."""
    variants = tuple(Variant(f"{m}@{v}", w) for m, v, role, w in routes if role != "shadow")
    shadows = tuple(f"{m}@{v}" for m, v, role, _w in routes if role == "shadow")
    return DeploymentSpec(name, variants, shadows, sticky)


def describe_change(change: DeploymentChange) -> dict[str, Any]:
    """A history entry as the admin API shows it (``replaced``: the state it replaced)."""
    replaced = spec_of_routes(change.deployment, change.routes, sticky=change.sticky).to_dict()
    del replaced["name"]
    return {
        "id": change.change_id,
        "action": change.action,
        "user": change.user,
        "at": change.created_at,
        "undone_at": change.undone_at,
        "replaced": replaced,
    }


class RouteSync:
    """Change deployments through the store's history; apply other workers' changes.

    Args:
        manager: This worker's models.
        store: The registry tables (routes, sticky flags, deployment history).
        interval_s: How often to look for changes made elsewhere.
    """

    def __init__(
        self, manager: ModelManager, store: ModelStore, *, interval_s: float = 1.0
    ) -> None:
        self.manager = manager
        self.store = store
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    # -- admin changes -----------------------------------------------------------
    async def change(
        self, spec: DeploymentSpec, *, action: str, user: str | None = None
    ) -> Endpoint:
        """Serve ``spec`` in this worker, then record it (what it replaced goes to history).

        Args:
            action: ``set``, ``canary`` or ``promote``.
            user: Who asked (kept in the history).

        Raises:
            NotFoundError, ...: A version cannot be loaded; nothing changes.
        """
        endpoint = await self.manager.apply(spec)
        resolved = endpoint.spec
        await self._record(
            spec.name,
            self.store.record_change,
            spec.name,
            routes_of(resolved),
            sticky=resolved.sticky,
            action=action,
            user=user,
        )
        return endpoint

    async def rollback(self, name: str, *, user: str | None = None) -> Endpoint:
        """Go back to what ``name`` served before its newest change (kept in the store).

        Rolling back again goes back one more change.

        Raises:
            NotFoundError: ``name`` is not served here, or a version to go back to
                was deleted since.
            ValidationError: No change to undo (the message says what to do).
            ConflictError: Another change or rollback came first; nothing changed.
        """
        self.manager.endpoint(name)
        pending = await _run(self.store.list_changes, name, limit=1, undoable=True)
        if not pending:
            raise ValidationError(
                f"{name!r} has no change to roll back: it serves what it served when first "
                "deployed (or every change since was rolled back already); to serve another "
                f"version, run `modelyard deploy set {name} --model MODEL@VERSION`"
            )
        newest = pending[0]
        previous = spec_of_routes(name, newest.routes, sticky=newest.sticky)
        try:
            endpoint = await self.manager.apply(previous)
        except NotFoundError as exc:
            refs = ", ".join(_ref(r) for r in newest.routes)
            raise NotFoundError(
                f"cannot roll back {name!r} to {refs}: {exc}; set what it should serve "
                f"instead with `modelyard deploy set {name} --model MODEL@VERSION`",
                deployment=name,
            ) from exc
        await self._record(name, self.store.pop_change, name, expect=newest.change_id, user=user)
        return endpoint

    def history(self, name: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest ``limit`` changes of ``name`` (blocking), as the admin API shows them."""
        return [describe_change(c) for c in self.store.list_changes(name, limit=limit)]

    # -- start-up ----------------------------------------------------------------
    def publish(self, name: str, *, action: str = "set", user: str | None = None) -> None:
        """Record what ``name`` serves in this worker now (blocking).

        If the store held other routes, they go to the history.
        """
        spec = self.manager.endpoint(name).spec
        self.store.record_change(
            name, routes_of(spec), sticky=spec.sticky, action=action, user=user
        )

    def publish_all(self) -> None:
        """Record every ready deployment at start-up (blocking).

        A deployment the store has no routes for gets them without history. One
        it has other routes for (the server restarted with other models) records
        a ``start`` change, so a rollback returns to what was served before.
        """
        for name in self.manager.names():
            if self.manager.is_ready(name):
                self.publish(name, action="start", user="server start-up")

    def start(self) -> None:
        """Start polling (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="route-sync")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- following the store -----------------------------------------------------
    async def sync_once(self) -> list[str]:
        """Apply every deployment whose stored routes or sticky flag differ from this worker's."""
        return [name for name in self.manager.names() if await self.sync(name)]

    async def sync(self, name: str) -> bool:
        """Apply the stored routes and sticky flag of ``name`` if they differ; whether they did."""
        if not self.manager.is_ready(name):
            return False
        current = self.manager.endpoint(name).spec
        stored = await _run(self.store.get_deployment, name)
        if stored is None or not stored.routes:
            return False
        if sorted(stored.routes) == sorted(routes_of(current)) and stored.sticky == current.sticky:
            return False
        await self.manager.apply(spec_of_routes(name, stored.routes, sticky=stored.sticky))
        return True

    async def _record(
        self, name: str, write: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        try:
            await _run(write, *args, **kwargs)
        except Exception:
            # Not recorded: serve what the store says again rather than a state no
            # other worker has and no rollback knows.
            try:
                await self.sync(name)
            except Exception as exc:  # noqa: BLE001 - the first error is the one to report
                log.warning("could not go back to the stored routes of %s: %s", name, exc)
            raise

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                for name in await self.sync_once():
                    log.info("applied the routes another worker set for %s", name)
            except Exception as exc:  # noqa: BLE001 - keep serving; try again next time
                log.warning("route sync failed: %s", exc)


async def _run(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Store calls block on the database: keep them off the event loop.
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: call(*args, **kwargs))


def _ref(route: Route) -> str:
    return f"{route[0]}@{route[1]}"
