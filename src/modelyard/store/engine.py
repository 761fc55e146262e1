"""Creating database engines: SQLite tuned for concurrent writers, PostgreSQL via psycopg 3.

SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL`` (a
commit survives a process crash; only an OS crash may lose the last commits),
a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for write transactions so
that concurrent writers queue on the lock instead of failing half-way with
"database is locked" when they upgrade a read lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from modelyard.exceptions import ConfigError, MissingDependencyError

__all__ = ["BUSY_TIMEOUT_S", "WRITE", "make_engine"]

BUSY_TIMEOUT_S = 60.0
# Execution option that marks a connection as a writer (see ``_begin``).
WRITE = "modelyard_write"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine for ``url`` with the per-backend settings modelyard relies on.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///path/modelyard.db`` or
            ``postgresql+psycopg://user@host/db``.
        echo: Log every statement (debugging).

    Raises:
        ConfigError: The URL is malformed or names an unsupported backend.
        MissingDependencyError: The driver for the backend is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"db_url {url!r} is not a database URL; expected e.g. sqlite:///path/modelyard.db "
            "or postgresql+psycopg://user@host:5432/db",
            db_url=url,
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _make_sqlite(url, parsed.database, echo)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=5)
        except (ModuleNotFoundError, NoSuchModuleError) as exc:
            raise MissingDependencyError(
                "PostgreSQL needs psycopg 3: pip install 'modelyard[postgres]'"
            ) from exc
    raise ConfigError(
        f"unsupported database backend {backend!r} in {url!r}; use sqlite or postgresql",
        db_url=url,
    )


def _make_sqlite(url: str, database: str | None, echo: bool) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    if not database or database == ":memory:":
        raise ConfigError(
            "an in-memory SQLite database is not shared between connections; "
            "give a file path, e.g. sqlite:///./.modelyard/modelyard.db",
            db_url=url,
        )
    if database.startswith("file:"):
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, echo=echo, **kwargs)
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so that ``_begin``
    # decides between BEGIN and BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # LIKE is case-sensitive on PostgreSQL; make SQLite agree (ILIKE is the
        # case-insensitive operator on both).
        cursor.execute("PRAGMA case_sensitive_like = ON")
    finally:
        cursor.close()


def _begin(conn: Connection) -> None:
    if conn.get_execution_options().get(WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
