"""Connection-level queries of the deployment tables: routes, sticky flag, change history.

:class:`~modelyard.store.model_store.ModelStore` opens the transactions; these
functions run inside them. A change locks the deployment's row first (``SELECT
... FOR UPDATE`` on PostgreSQL, as version numbering locks the model's row;
SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time), then reads
the routes it replaces, so the history and the routes can never disagree and
two rollbacks at once never take the same entry. Kept apart from
``model_queries`` because the serving layer, not the registry, owns these rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, select, update

from modelyard.exceptions import ConflictError, ValidationError
from modelyard.store.model_queries import model_id_of, version_of
from modelyard.store.model_rows import DeploymentChange, DeploymentRoutes, Route, change_from_row
from modelyard.store.rows import now_ms
from modelyard.store.schema import (
    deployment_changes,
    deployment_routes,
    deployments,
    registered_models,
)

__all__ = [
    "ACTIONS",
    "ROLES",
    "deployment_state",
    "list_changes",
    "pop_change",
    "read_routes",
    "record_change",
    "write_routes",
]

ROLES = ("primary", "canary", "shadow")
ACTIONS = ("start", "set", "canary", "promote", "rollback")


def read_routes(conn: Connection, deployment: str) -> list[Route]:
    """The routes of ``deployment``: primary first, then canaries, then shadows."""
    query = (
        select(
            registered_models.c.name,
            deployment_routes.c.version,
            deployment_routes.c.role,
            deployment_routes.c.weight,
        )
        .join(registered_models, registered_models.c.model_id == deployment_routes.c.model_id)
        .where(deployment_routes.c.deployment == deployment)
    )
    rows = [(r[0], int(r[1]), r[2], float(r[3])) for r in conn.execute(query)]
    return sorted(rows, key=lambda r: (ROLES.index(r[2]), r[0], r[1]))


def deployment_state(conn: Connection, deployment: str) -> DeploymentRoutes | None:
    """Routes and sticky flag of ``deployment``; None when the store never saw it."""
    routes = read_routes(conn, deployment)
    sticky = conn.execute(
        select(deployments.c.sticky).where(deployments.c.name == deployment)
    ).scalar()
    if sticky is None and not routes:
        return None
    return DeploymentRoutes(tuple(routes), bool(sticky))


def write_routes(
    conn: Connection, insert: Any, deployment: str, routes: Sequence[Route], sticky: bool | None
) -> None:
    """Replace the routes of ``deployment`` (and its sticky flag, unless None)."""
    conn.execute(delete(deployment_routes).where(deployment_routes.c.deployment == deployment))
    at = now_ms()
    for name, version, role, weight in routes:
        if role not in ROLES:
            raise ValidationError(f"route role {role!r} is not one of {', '.join(ROLES)}")
        model_id = model_id_of(conn, name)
        version_of(conn, model_id, name, version)
        conn.execute(
            deployment_routes.insert().values(
                deployment=deployment,
                model_id=model_id,
                version=version,
                role=role,
                weight=float(weight),
                updated_at=at,
            )
        )
    changed: dict[str, Any] = {"updated_at": at}
    if sticky is not None:
        changed["sticky"] = sticky
    stmt = insert(deployments).values(name=deployment, sticky=bool(sticky), updated_at=at)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=changed))


def record_change(
    conn: Connection,
    insert: Any,
    deployment: str,
    routes: Sequence[Route],
    *,
    sticky: bool,
    action: str,
    user: str | None,
) -> DeploymentChange | None:
    """Write new routes; the ones they replace go to the history (see ModelStore)."""
    if action not in ACTIONS or action == "rollback":
        valid = ", ".join(a for a in ACTIONS if a != "rollback")
        raise ValidationError(
            f"deployment change action {action!r} is not one of {valid} "
            "(a rollback goes through pop_change)"
        )
    new = [_route(r) for r in routes]
    _lock(conn, insert, deployment, create=True)
    before = deployment_state(conn, deployment) or DeploymentRoutes((), sticky)
    if sorted(before.routes) == sorted(new) and before.sticky == sticky:
        return None  # nothing changes, so nothing is recorded
    change_id = None
    if before.routes:  # a deployment's first routes replace nothing worth going back to
        change_id = _log(conn, deployment, action, before.routes, before.sticky, user)
    write_routes(conn, insert, deployment, new, sticky)
    return None if change_id is None else _change(conn, change_id)


def pop_change(
    conn: Connection, insert: Any, deployment: str, *, expect: int | None, user: str | None
) -> DeploymentChange | None:
    """Undo the newest change of ``deployment`` (see ModelStore.pop_change)."""
    exists = _lock(conn, insert, deployment, create=False)
    pending = list_changes(conn, deployment, limit=1, undoable=True) if exists else []
    newest = pending[0] if pending else None
    if expect is not None and (newest is None or newest.change_id != expect):
        raise ConflictError(
            f"deployment {deployment!r} changed while this rollback was prepared (another "
            "change or rollback came first); check what it serves now and retry",
            deployment=deployment,
        )
    if newest is None:
        return None
    before = deployment_state(conn, deployment) or DeploymentRoutes((), False)
    write_routes(conn, insert, deployment, newest.routes, newest.sticky)
    at = now_ms()
    conn.execute(
        update(deployment_changes)
        .where(deployment_changes.c.change_id == newest.change_id)
        .values(undone_at=at)
    )
    _log(conn, deployment, "rollback", before.routes, before.sticky, user)
    return replace(newest, undone_at=at)


def list_changes(
    conn: Connection, deployment: str, *, limit: int | None = None, undoable: bool = False
) -> list[DeploymentChange]:
    """Changes of ``deployment``, newest first (only those a rollback can undo, if asked)."""
    query = select(deployment_changes).where(deployment_changes.c.deployment == deployment)
    if undoable:
        query = query.where(
            deployment_changes.c.undone_at.is_(None) & (deployment_changes.c.action != "rollback")
        )
    query = query.order_by(deployment_changes.c.change_id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [change_from_row(r) for r in conn.execute(query)]


def _route(route: Sequence[Any]) -> Route:
    name, version, role, weight = route
    return (str(name), int(version), str(role), float(weight))


def _lock(conn: Connection, insert: Any, deployment: str, *, create: bool) -> bool:
    # The deployment's row is the lock every change and rollback takes first.
    if create:
        conn.execute(
            insert(deployments)
            .values(name=deployment, sticky=False, updated_at=now_ms())
            .on_conflict_do_nothing(index_elements=["name"])
        )
    query = select(deployments.c.name).where(deployments.c.name == deployment)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def _log(
    conn: Connection,
    deployment: str,
    action: str,
    routes: Sequence[Route],
    sticky: bool,
    user: str | None,
) -> int:
    change_id = conn.execute(
        deployment_changes.insert()
        .values(
            deployment=deployment,
            action=action,
            routes=json.dumps([list(r) for r in routes], separators=(",", ":")),
            sticky=sticky,
            user=user,
            created_at=now_ms(),
        )
        .returning(deployment_changes.c.change_id)
    ).scalar_one()
    return int(change_id)


def _change(conn: Connection, change_id: int) -> DeploymentChange:
    row = conn.execute(
        select(deployment_changes).where(deployment_changes.c.change_id == change_id)
    ).one()
    return change_from_row(row)
