"""Registered models, their immutable versions, aliases and history; deployment routes.

Versions are numbered inside one write transaction that also locks the model
row, so two registrations at once get N and N+1. An alias moves with a single
upsert in the same transaction as the history event that records the move, so
readers see either the old or the new target, never none, and the history never
misses a move. A deployment's routes change the same way: the routes a change
replaces are pushed to its history in the transaction that writes the new ones,
and a rollback takes the newest entry under the deployment's row lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from modelyard.exceptions import ConflictError, NotFoundError, ValidationError
from modelyard.store import deployment_queries
from modelyard.store.database import Database
from modelyard.store.migrate import ensure_schema
from modelyard.store.model_queries import (
    aliases_by_version,
    aliases_of,
    dumps,
    lock_or_create,
    model_id_of,
    record_event,
    refuse_if_used,
    routes_of,
    set_doc,
    version_of,
)
from modelyard.store.model_rows import (
    DeploymentChange,
    DeploymentRoutes,
    ModelEvent,
    ModelVersion,
    RegisteredModel,
    Route,
    check_alias,
    check_model_name,
    event_from_row,
    version_from_row,
    version_select,
)
from modelyard.store.rows import now_ms
from modelyard.store.schema import (
    model_aliases,
    model_events,
    model_versions,
    registered_models,
)

__all__ = ["ModelStore", "NewModelVersion", "Route"]

STATUSES = ("ready", "archived")

NewModelVersion = Mapping[str, Any]
"""run_id, task, lineage, signature, metrics, size_bytes, formats, description."""


class _Any:
    """The default of ``expect``: move the alias whatever it points at."""


ANY = _Any()


def _v(version: int | None) -> str:
    return "unset" if version is None else f"v{version}"


class ModelStore(Database):
    """The model registry tables of one metadata database.

    Args:
        url_or_engine: A SQLAlchemy URL or an engine made by :func:`make_engine`.
        migrate: Create the schema in an empty database (the default).
    """

    def __init__(self, url_or_engine: str | Engine, *, migrate: bool = True) -> None:
        super().__init__(url_or_engine)
        if migrate:
            with self._translate():
                ensure_schema(self.engine)

    # -- reading -------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name, with its latest version and aliases."""
        with self._read() as conn:
            latest = dict(
                conn.execute(
                    select(model_versions.c.model_id, func.max(model_versions.c.version)).group_by(
                        model_versions.c.model_id
                    )
                ).all()
            )
            aliases: dict[int, dict[str, int]] = {}
            for model_id, alias, version in conn.execute(
                select(model_aliases.c.model_id, model_aliases.c.alias, model_aliases.c.version)
            ):
                aliases.setdefault(model_id, {})[alias] = version
            rows = conn.execute(select(registered_models).order_by(registered_models.c.name))
            return [
                RegisteredModel(
                    name=r.name,
                    description=r.description,
                    created_at=int(r.created_at),
                    created_by=r.created_by,
                    latest_version=latest.get(r.model_id),
                    aliases=dict(sorted(aliases.get(r.model_id, {}).items())),
                )
                for r in rows
            ]

    def get_version(self, name: str, version: int | None = None) -> ModelVersion:
        """Version ``version`` of ``name`` (the newest when None).

        Raises:
            NotFoundError: No such model (the message lists those that exist) or
                no such version (it lists the versions that exist).
        """
        with self._read() as conn:
            model_id = model_id_of(conn, name)
            return version_of(conn, model_id, name, version)

    def resolve_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at.

        Raises:
            NotFoundError: No such model, or no such alias (the message lists the
                aliases that exist).
        """
        with self._read() as conn:
            model_id = model_id_of(conn, name)
            version = conn.execute(
                select(model_aliases.c.version).where(
                    (model_aliases.c.model_id == model_id) & (model_aliases.c.alias == alias)
                )
            ).scalar()
            if version is None:
                known = aliases_of(conn, model_id)
                listed = ", ".join(f"{a} (v{v})" for a, v in known.items()) or "none yet"
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases: {listed}. "
                    f"Set one with `modelyard models alias {name} {alias} VERSION`",
                    resource="alias",
                    identifier=f"{name}@{alias}",
                )
            return version_of(conn, model_id, name, int(version))

    def aliases(self, name: str) -> dict[str, int]:
        """``{alias: version}`` of ``name``."""
        with self._read() as conn:
            return aliases_of(conn, model_id_of(conn, name))

    def list_versions(
        self,
        name: str | None = None,
        *,
        status: str | None = None,
        task: str | None = None,
        run_id: str | None = None,
    ) -> list[ModelVersion]:
        """Versions (of one model, or all), newest first, filtered by the given fields."""
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        query = version_select()
        if status is not None:
            query = query.where(model_versions.c.status == status)
        if task is not None:
            query = query.where(model_versions.c.task == task)
        if run_id is not None:
            query = query.where(model_versions.c.run_id == run_id)
        with self._read() as conn:
            if name is not None:
                query = query.where(model_versions.c.model_id == model_id_of(conn, name))
            rows = conn.execute(
                query.order_by(registered_models.c.name, model_versions.c.version.desc())
            ).all()
            by_version = aliases_by_version(conn)
            return [version_from_row(r, by_version.get((r.model_id, r.version), ())) for r in rows]

    def history(self, name: str) -> list[ModelEvent]:
        """Every event of ``name``, oldest first."""
        with self._read() as conn:
            model_id = model_id_of(conn, name)
            rows = conn.execute(
                select(model_events)
                .where(model_events.c.model_id == model_id)
                .order_by(model_events.c.event_id)
            )
            return [event_from_row(r, name) for r in rows]

    def routes_for(self, name: str, version: int) -> list[str]:
        """Deployments that route traffic to ``name@version``."""
        with self._read() as conn:
            model_id = model_id_of(conn, name)
            return routes_of(conn, model_id, version)

    def get_routes(self, deployment: str) -> list[Route]:
        """The routes of ``deployment``: primary first, then canaries, then shadows."""
        with self._read() as conn:
            return deployment_queries.read_routes(conn, deployment)

    def get_deployment(self, deployment: str) -> DeploymentRoutes | None:
        """The routes and sticky flag of ``deployment`` (None if it was never written)."""
        with self._read() as conn:
            return deployment_queries.deployment_state(conn, deployment)

    def list_changes(
        self, deployment: str, *, limit: int | None = None, undoable: bool = False
    ) -> list[DeploymentChange]:
        """The change history of ``deployment``, newest first (at most ``limit``).

        ``undoable`` keeps only the changes a rollback can still undo (not undone
        yet, not rollbacks themselves); the first is the one the next undoes.
        """
        with self._read() as conn:
            return deployment_queries.list_changes(conn, deployment, limit=limit, undoable=undoable)

    # -- writing -------------------------------------------------------------
    def create_version(
        self, name: str, new: NewModelVersion, *, created_by: str | None = None
    ) -> ModelVersion:
        """Register the next version of ``name`` (creating the model on first use)."""
        check_model_name(name)
        with self._write() as conn:
            model_id = lock_or_create(conn, self._insert, name, created_by)
            last = conn.execute(
                select(registered_models.c.last_version).where(
                    registered_models.c.model_id == model_id
                )
            ).scalar_one()
            version = int(last) + 1
            conn.execute(
                update(registered_models)
                .where(registered_models.c.model_id == model_id)
                .values(last_version=version)
            )
            conn.execute(
                model_versions.insert().values(
                    model_id=model_id,
                    version=version,
                    run_id=new["run_id"],
                    status="ready",
                    task=new["task"],
                    created_at=now_ms(),
                    created_by=created_by,
                    description=new.get("description"),
                    lineage=dumps(new["lineage"], "lineage"),
                    signature=dumps(new["signature"], "signature"),
                    metrics=dumps(new["metrics"], "metrics"),
                    size_bytes=int(new["size_bytes"]),
                    formats=dumps(new["formats"], "formats"),
                )
            )
            record_event(
                conn, model_id, "register", version, to_value=str(version), user=created_by
            )
            return version_of(conn, model_id, name, version)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None = None,
        reason: str | None = None,
        gates: Mapping[str, Any] | None = None,
        expect: int | _Any | None = ANY,
    ) -> int | None:
        """Point ``alias`` at ``version``; returns the version it pointed at before.

        ``gates`` (a promotion's gate results) is stored on the version in the same
        transaction, so a promotion records its evidence and moves the alias at once.
        ``expect`` (a version, or None for "not set") makes the move conditional: if
        the alias moved since the caller looked (a concurrent promotion), nothing
        changes and :class:`ConflictError` says so. Pointing an alias where it
        already points changes nothing and records nothing.
        """
        check_alias(alias)
        with self._write() as conn:
            model_id = model_id_of(conn, name, lock=True)
            target = version_of(conn, model_id, name, version)
            if target.status != "ready":
                raise ConflictError(
                    f"{name}@{version} is {target.status}: restore it "
                    f"(`modelyard models restore {name}@{version}`) before pointing an alias at it"
                )
            before = aliases_of(conn, model_id).get(alias)
            if not isinstance(expect, _Any) and before != expect:
                raise ConflictError(
                    f"{name}@{alias} moved from {_v(expect)} to {_v(before)} while this "
                    "change was prepared; check again and retry",
                    alias=alias,
                )
            if before == version:
                return before
            stmt = self._insert(model_aliases).values(
                model_id=model_id,
                alias=alias,
                version=version,
                updated_at=now_ms(),
                updated_by=user,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model_id", "alias"],
                    set_={"version": version, "updated_at": now_ms(), "updated_by": user},
                )
            )
            if gates is not None:
                set_doc(conn, model_id, version, "gates", gates)
            record_event(
                conn,
                model_id,
                "alias",
                version,
                alias=alias,
                from_value=None if before is None else str(before),
                to_value=str(version),
                user=user,
                reason=reason,
            )
            return before

    def delete_alias(
        self, name: str, alias: str, *, user: str | None = None, reason: str | None = None
    ) -> int:
        """Remove ``alias``; returns the version it pointed at."""
        with self._write() as conn:
            model_id = model_id_of(conn, name, lock=True)
            before = aliases_of(conn, model_id).get(alias)
            if before is None:
                listed = ", ".join(aliases_of(conn, model_id)) or "none"
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases: {listed}",
                    resource="alias",
                    identifier=f"{name}@{alias}",
                )
            conn.execute(
                delete(model_aliases).where(
                    (model_aliases.c.model_id == model_id) & (model_aliases.c.alias == alias)
                )
            )
            record_event(
                conn,
                model_id,
                "alias",
                before,
                alias=alias,
                from_value=str(before),
                to_value=None,
                user=user,
                reason=reason,
            )
            return before

    def set_status(
        self,
        name: str,
        version: int,
        status: str,
        *,
        user: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Archive or restore a version (archiving is refused while an alias points at it)."""
        if status not in STATUSES:
            raise ValidationError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        with self._write() as conn:
            model_id = model_id_of(conn, name, lock=True)
            current = version_of(conn, model_id, name, version)
            if current.status == status:
                return
            if status == "archived":
                refuse_if_used(conn, model_id, name, version, "archive")
            conn.execute(
                update(model_versions)
                .where(
                    (model_versions.c.model_id == model_id) & (model_versions.c.version == version)
                )
                .values(status=status)
            )
            record_event(
                conn,
                model_id,
                "status",
                version,
                from_value=current.status,
                to_value=status,
                user=user,
                reason=reason,
            )

    def set_document(
        self,
        name: str,
        version: int,
        field: str,
        doc: Mapping[str, Any],
        *,
        user: str | None = None,
    ) -> None:
        """Store an ``evaluation`` or ``gates`` document on a version (and log the event)."""
        if field not in ("evaluation", "gates"):
            raise ValidationError(f"field {field!r} is not one of evaluation, gates")
        with self._write() as conn:
            model_id = model_id_of(conn, name, lock=True)
            version_of(conn, model_id, name, version)
            set_doc(conn, model_id, version, field, doc)
            record_event(conn, model_id, field, version, user=user)

    def delete_version(
        self, name: str, version: int, *, user: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Delete a version (refused while an alias or a deployment points at it)."""
        with self._write() as conn:
            model_id = model_id_of(conn, name, lock=True)
            record = version_of(conn, model_id, name, version)
            refuse_if_used(conn, model_id, name, version, "delete")
            conn.execute(
                delete(model_versions).where(
                    (model_versions.c.model_id == model_id) & (model_versions.c.version == version)
                )
            )
            record_event(
                conn, model_id, "delete", version, from_value=str(version), user=user, reason=reason
            )
            return record

    def set_routes(
        self, deployment: str, routes: Sequence[Route], *, sticky: bool | None = None
    ) -> None:
        """Replace the routes of ``deployment`` without recording history.

        ``sticky`` (when given) is stored as the deployment's sticky flag. Serving
        changes go through :meth:`record_change`, which keeps the history.
        """
        with self._write() as conn:
            deployment_queries.write_routes(conn, self._insert, deployment, routes, sticky)

    def record_change(
        self,
        deployment: str,
        routes: Sequence[Route],
        *,
        sticky: bool,
        action: str,
        user: str | None = None,
    ) -> DeploymentChange | None:
        """Write new routes (and sticky flag); push the ones they replace to the history.

        One transaction under the deployment's row lock. A deployment's first
        routes replace nothing and are written without a history entry; a state
        equal to the stored one changes and records nothing. ``action`` is
        ``start``, ``set``, ``canary`` or ``promote``.

        Returns:
            The history entry written (holding the replaced routes), or None.

        Raises:
            ValidationError: Unknown action or route role.
            NotFoundError: A route names a model or version that does not exist.
        """
        with self._write() as conn:
            return deployment_queries.record_change(
                conn, self._insert, deployment, routes, sticky=sticky, action=action, user=user
            )

    def pop_change(
        self, deployment: str, *, expect: int | None = None, user: str | None = None
    ) -> DeploymentChange | None:
        """Roll ``deployment`` back: undo its newest change, atomically.

        One transaction under the deployment's row lock: take the newest change
        a rollback can undo, write the routes and sticky flag it replaced, mark
        it undone, log the rollback (never undone itself, so two rollbacks go
        back two changes). Two rollbacks at once never take the same entry.
        ``expect`` (a ``change_id`` from :meth:`list_changes`) makes it
        conditional: if another change or rollback came first, nothing changes.

        Returns:
            The change that was undone, or None when there is none to undo.

        Raises:
            ConflictError: ``expect`` is no longer the newest change to undo.
            NotFoundError: The routes to restore name a version deleted since.
        """
        with self._write() as conn:
            return deployment_queries.pop_change(
                conn, self._insert, deployment, expect=expect, user=user
            )
