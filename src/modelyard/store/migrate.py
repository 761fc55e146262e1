"""Applying Alembic migrations: automatically on an empty database, on demand otherwise."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from modelyard.exceptions import SchemaVersionError
from modelyard.store.engine import WRITE

__all__ = ["current_revision", "ensure_schema", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")
# Arbitrary constant: the PostgreSQL advisory lock that serialises migrations.
_PG_LOCK_KEY = 0x6D796461


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this version of modelyard knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships at least one migration
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); safe to run concurrently.

    Returns:
        The revision the database was at before (``None`` if it was empty).

    Raises:
        SchemaVersionError: The database holds tables that are not modelyard's.
    """
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        _lock(conn)
        # Read the state only once the lock is held: another process may have
        # just finished migrating the same database.
        before = MigrationContext.configure(conn).get_current_revision()
        if before is None and _has_foreign_tables(conn):
            raise SchemaVersionError(
                f"database {engine.url.render_as_string(hide_password=True)} has tables but no "
                "modelyard schema version; point MODELYARD_DB_URL at an empty database",
            )
        command.upgrade(_config(conn), revision)
    return before


def ensure_schema(engine: Engine) -> None:
    """Make the database usable: migrate an empty one, refuse a stale or foreign one.

    Raises:
        SchemaVersionError: The database is at another revision; the message says
            to run ``modelyard db upgrade`` (or to upgrade modelyard, if it is newer).
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        upgrade(engine)
        return
    if not _known(current):
        raise SchemaVersionError(
            f"database schema is at revision {current}, which this modelyard does not know "
            f"(newest known: {head}); upgrade modelyard",
            current=current,
            head=head,
        )
    raise SchemaVersionError(
        f"database schema is at revision {current}, this modelyard needs {head}; "
        "run `modelyard db upgrade` (back up the database first)",
        current=current,
        head=head,
    )


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except (CommandError, ResolutionError):
        return False


def _lock(conn: Connection) -> None:
    # SQLite: BEGIN IMMEDIATE already holds the write lock. PostgreSQL: take an
    # advisory lock so two processes migrating the same empty database queue.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _has_foreign_tables(conn: Connection) -> bool:
    names = set(inspect(conn).get_table_names()) - {"alembic_version"}
    return bool(names)
