"""The base of every store: an engine, short transactions, and error translation."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.exceptions import StoreError
from modelyard.store.engine import WRITE, make_engine

__all__ = ["Database"]


class Database:
    """Connection handling shared by the stores built on the metadata database.

    Every public store method runs in one short transaction opened with
    :meth:`_write` (``BEGIN IMMEDIATE`` on SQLite, so writers queue) or
    :meth:`_read`; driver errors become :class:`StoreError` with the URL (password
    hidden) and what to check.

    Args:
        url_or_engine: A SQLAlchemy URL or an engine made by :func:`make_engine`.
    """

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        _forget_pool_after_fork(self.engine)
        dialect = self.engine.dialect.name
        # Dialect-specific INSERT, for ON CONFLICT upserts (same API on both backends).
        self._insert: Callable[..., Any] = (
            postgresql.insert if dialect == "postgresql" else sqlite.insert
        )

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.OperationalError as exc:
            raise StoreError(
                f"metadata database error ({self.engine.url.render_as_string(True)}): "
                f"{exc.orig}; check that the database is reachable and the disk is not full"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def _forget_pool_after_fork(engine: Engine) -> None:
    # A forked child must not reuse the parent's pooled connections (two processes
    # on one SQLite handle or PostgreSQL socket corrupt each other). The child
    # drops them without closing them; the parent keeps using its own.
    ref = weakref.ref(engine)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=forget)
