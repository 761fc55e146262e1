"""Running SQLAlchemy-compiled statements on the DBAPI cursor, for the hot paths.

The statements are built and compiled by SQLAlchemy for the engine's dialect;
only their execution skips Core's per-call and per-row bookkeeping, which costs
several times the database work for tiny writes (``log_metric``) and for bulk
reads of many small rows (loading a page of runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import ClauseElement, Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["RawStatement", "fetch_tuples"]


class RawStatement:
    """A statement compiled once to SQL text plus the order of its bound parameters.

    Args:
        stmt: The SQLAlchemy statement.
        dialect: The dialect to compile for.
        postcompile: Render "expanding" parameters (``IN`` lists) into the text,
            for statements compiled per call with their values.
    """

    def __init__(self, stmt: ClauseElement, dialect: Dialect, *, postcompile: bool = False) -> None:
        kwargs = {"render_postcompile": True} if postcompile else {}
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect, compile_kwargs=kwargs))
        self.sql = str(compiled)
        self.positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        self.defaults = compiled.params

    def params(self, values: Mapping[str, Any] | None = None) -> Any:
        """Bound values in the driver's paramstyle (a tuple, or the mapping itself)."""
        values = self.defaults if values is None else values
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)


def fetch_tuples(conn: Connection, query: ClauseElement) -> list[tuple[Any, ...]]:
    """All rows of ``query`` as plain tuples, straight from the DBAPI cursor.

    For bulk reads of simply typed columns (strings, floats, ints), inside the
    connection's current transaction.
    """
    raw = RawStatement(query, conn.dialect, postcompile=True)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(raw.sql, raw.params())
        return list(cursor.fetchall())
    finally:
        cursor.close()
