"""Connection-level queries of the model registry tables.

:class:`~modelyard.store.model_store.ModelStore` opens the transactions; these
functions run inside them (look-ups that list what exists on a miss, the
alias and route checks, history events).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.store.model_rows import ModelVersion, version_from_row, version_select
from modelyard.store.rows import now_ms
from modelyard.store.schema import (
    deployment_routes,
    model_aliases,
    model_events,
    model_versions,
    registered_models,
)

__all__ = [
    "aliases_by_version",
    "aliases_of",
    "dumps",
    "lock_or_create",
    "model_id_of",
    "record_event",
    "refuse_if_used",
    "routes_of",
    "set_doc",
    "version_of",
]


def dumps(doc: Any, what: str = "document") -> str:
    """A JSON document for a version column (NaN refused with the field named)."""
    # Key order is kept: metrics in the order training reported them (primary first),
    # formats in the order they were packaged.
    try:
        return json.dumps(doc, allow_nan=False, separators=(",", ":"))
    except ValueError as exc:
        raise ValidationError(
            f"the model version's {what} holds NaN or infinity, which JSON cannot store; "
            "drop those values or replace them with null",
            field=what,
        ) from exc


def model_id_of(conn: Connection, name: str, *, lock: bool = False) -> int:
    """The id of model ``name`` (NotFoundError lists the models); ``lock`` locks its row."""
    query = select(registered_models.c.model_id).where(registered_models.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    model_id = conn.execute(query).scalar()
    if model_id is None:
        names = conn.execute(
            select(registered_models.c.name).order_by(registered_models.c.name).limit(20)
        ).scalars()
        listed = ", ".join(names) or "none registered yet"
        raise NotFoundError(
            f"no registered model {name[:200]!r}; models: {listed}. "
            "Register one with `modelyard models register RUN_ID --name NAME`",
            resource="model",
            identifier=name,
        )
    return int(model_id)


def lock_or_create(conn: Connection, insert: Any, name: str, created_by: str | None) -> int:
    """The id of model ``name``, created if missing, its row locked (PostgreSQL)."""
    query = select(registered_models.c.model_id).where(registered_models.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    model_id = conn.execute(query).scalar()
    if model_id is not None:
        return int(model_id)
    conn.execute(
        insert(registered_models)
        .values(name=name, created_at=now_ms(), created_by=created_by)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int(conn.execute(query).scalar_one())


def version_of(conn: Connection, model_id: int, name: str, version: int | None) -> ModelVersion:
    """Version ``version`` of the model (the newest ready one when None), with aliases."""
    query = version_select().where(model_versions.c.model_id == model_id)
    if version is None:  # the newest version that is not archived
        query = (
            query.where(model_versions.c.status == "ready")
            .order_by(model_versions.c.version.desc())
            .limit(1)
        )
    else:
        query = query.where(model_versions.c.version == version)
    row = conn.execute(query).first()
    if row is None:
        versions = conn.execute(
            select(model_versions.c.version)
            .where(model_versions.c.model_id == model_id)
            .order_by(model_versions.c.version)
        ).scalars()
        listed = ", ".join(str(v) for v in versions) or "none"
        wanted = "ready (not archived) version" if version is None else f"version {version}"
        raise NotFoundError(
            f"model {name!r} has no {wanted}; versions: {listed}",
            resource="model version",
            identifier=f"{name}@{version}",
        )
    by_version = aliases_of(conn, model_id)
    aliases = tuple(sorted(a for a, v in by_version.items() if v == row.version))
    return version_from_row(row, aliases)


def aliases_of(conn: Connection, model_id: int) -> dict[str, int]:
    """``{alias: version}`` of one model."""
    rows = conn.execute(
        select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.model_id == model_id)
        .order_by(model_aliases.c.alias)
    )
    return {alias: int(version) for alias, version in rows}


def aliases_by_version(conn: Connection) -> dict[tuple[int, int], tuple[str, ...]]:
    """``{(model_id, version): aliases}`` over every model."""
    found: dict[tuple[int, int], list[str]] = {}
    rows = conn.execute(
        select(model_aliases.c.model_id, model_aliases.c.version, model_aliases.c.alias)
    )
    for model_id, version, alias in rows:
        found.setdefault((model_id, version), []).append(alias)
    return {k: tuple(sorted(v)) for k, v in found.items()}


def routes_of(conn: Connection, model_id: int, version: int) -> list[str]:
    """Deployments routing traffic to one version."""
    return list(
        conn.execute(
            select(deployment_routes.c.deployment).where(
                (deployment_routes.c.model_id == model_id)
                & (deployment_routes.c.version == version)
            )
        ).scalars()
    )


def refuse_if_used(conn: Connection, model_id: int, name: str, version: int, action: str) -> None:
    """ConflictError when an alias or a deployment points at the version."""
    aliases = [a for a, v in aliases_of(conn, model_id).items() if v == version]
    if aliases:
        raise ConflictError(
            f"cannot {action} {name}@{version}: alias(es) {', '.join(aliases)} point at it; "
            f"move them first (`modelyard models alias {name} {aliases[0]} OTHER_VERSION`)"
        )
    routes = routes_of(conn, model_id, version)
    if routes:
        raise ConflictError(
            f"cannot {action} {name}@{version}: deployment(s) {', '.join(routes)} route "
            "traffic to it; change the deployment first"
        )


def set_doc(
    conn: Connection, model_id: int, version: int, field: str, doc: Mapping[str, Any]
) -> None:
    """Store an ``evaluation`` or ``gates`` document on a version."""
    conn.execute(
        update(model_versions)
        .where((model_versions.c.model_id == model_id) & (model_versions.c.version == version))
        .values({field: dumps(doc, field)})
    )


def record_event(
    conn: Connection,
    model_id: int,
    kind: str,
    version: int | None,
    *,
    alias: str | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    user: str | None = None,
    reason: str | None = None,
) -> None:
    """Append one entry to the model's history."""
    conn.execute(
        model_events.insert().values(
            model_id=model_id,
            kind=kind,
            version=version,
            alias=alias,
            from_value=from_value,
            to_value=to_value,
            user=user,
            at=now_ms(),
            reason=reason,
        )
    )
