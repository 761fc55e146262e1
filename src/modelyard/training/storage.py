"""Where Optuna studies live: beside the metadata database, shared by every worker.

Optuna keeps its own tables and its own Alembic version table, which would
collide with modelyard's ``alembic_version``. So on PostgreSQL the studies live
in the same database under their own schema (``optuna``), and on SQLite in a
sibling file (``modelyard.optuna.db`` next to ``modelyard.db``). Either way every
worker process (local or on Ray, given a PostgreSQL URL they can reach) opens
the same study.
"""

from __future__ import annotations

from typing import Any

import optuna
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from modelyard.exceptions import ValidationError

__all__ = ["OPTUNA_SCHEMA", "close_storage", "open_storage", "study_storage"]

OPTUNA_SCHEMA = "optuna"


def study_storage(db_url: str) -> tuple[str, dict[str, Any]]:
    """The storage URL and engine options of the studies for metadata DB ``db_url``.

    Raises:
        ValidationError: The URL is neither SQLite nor PostgreSQL.
    """
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise ValidationError("Optuna studies need a SQLite file, not an in-memory database")
        stem = database[:-3] if database.endswith(".db") else database
        study_url = url.set(database=f"{stem}.optuna.db")
        return study_url.render_as_string(hide_password=False), {"connect_args": {"timeout": 60}}
    if backend == "postgresql":
        options = {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}}
        return url.render_as_string(hide_password=False), options
    raise ValidationError(f"Optuna studies need SQLite or PostgreSQL, not {backend}")


def open_storage(url: str, options: dict[str, Any]) -> optuna.storages.RDBStorage:
    """The Optuna storage at ``url`` (the schema is created on PostgreSQL if missing).

    On SQLite every transaction is ``BEGIN IMMEDIATE``: Optuna hands a queued trial
    to a worker by reading then updating its state, and with SQLite's default
    deferred transactions two worker processes could both take the same trial.
    """
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{OPTUNA_SCHEMA}"'))
        finally:
            engine.dispose()
    if backend != "sqlite":
        return optuna.storages.RDBStorage(url, engine_kwargs=options)
    storage = optuna.storages.RDBStorage(url, engine_kwargs=options)
    storage.engine.dispose()
    _serialize_sqlite_writers(storage.engine)
    return storage


def _serialize_sqlite_writers(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook issue BEGIN itself
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def close_storage(storage: optuna.storages.RDBStorage) -> None:
    """Release the storage's pooled connections (Optuna leaves them to the GC)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        storage.remove_session()
        engine.dispose()
