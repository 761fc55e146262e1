"""The metric hot path: SQLAlchemy-compiled statements run on a held DBAPI connection.

``log_metric`` is called in training loops thousands of times; going through the
full Core execution machinery for each call costs ~5x the database work itself.
The statements here are still built and compiled by SQLAlchemy (once, for the
engine's dialect); only their execution skips the per-call bookkeeping: each
thread keeps one pooled DBAPI connection and runs ``BEGIN IMMEDIATE`` (SQLite) /
an implicit transaction (PostgreSQL), two executes and a commit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Insert
from sqlalchemy.pool import PoolProxiedConnection

from modelyard.store.raw import RawStatement

__all__ = ["MetricWriter"]


class MetricWriter:
    """Writes metric rows and their latest-value upserts in one short transaction.

    Args:
        engine: The store's engine (its pool provides the connections).
        insert: ``INSERT INTO metrics`` with every column bound.
        upsert: The latest-metrics upsert with every column bound.
    """

    def __init__(self, engine: Engine, insert: Insert, upsert: Insert) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._insert = RawStatement(insert, engine.dialect)
        self._upsert = RawStatement(upsert, engine.dialect)
        self._local = threading.local()
        self.dbapi_error: type[Exception] = engine.dialect.dbapi.Error  # type: ignore[union-attr]
        self.integrity_error: type[Exception] = engine.dialect.dbapi.IntegrityError  # type: ignore[union-attr]

    def _connection(self) -> PoolProxiedConnection:
        held = getattr(self._local, "conn", None)
        if held is not None and self._local.pid == os.getpid():
            return held  # type: ignore[no-any-return]
        conn = self._engine.raw_connection()
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def write(self, rows: Sequence[dict[str, Any]], latest: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` and upsert ``latest`` atomically; rolls back on any error."""
        conn = self._connection()
        cursor = conn.cursor()
        try:
            if self._sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            if len(rows) == 1:
                cursor.execute(self._insert.sql, self._insert.params(rows[0]))
            else:
                cursor.executemany(self._insert.sql, [self._insert.params(r) for r in rows])
            if len(latest) == 1:
                cursor.execute(self._upsert.sql, self._upsert.params(latest[0]))
            else:
                cursor.executemany(self._upsert.sql, [self._upsert.params(r) for r in latest])
            conn.commit()
        except BaseException:
            self._discard(conn)
            raise
        finally:
            cursor.close()

    def _discard(self, conn: PoolProxiedConnection) -> None:
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection is discarded either way
            conn.invalidate()
        conn.close()
        self._local.conn = None

    def close(self) -> None:
        """Return this thread's connection to the pool."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            held.close()
            self._local.conn = None
