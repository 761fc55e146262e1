"""DuckDB plumbing shared by validation rules and SQL queries over dataset versions.

Both run SQL built from user input over a dataset's Parquet files. This module holds
what they share: quoting identifiers and literals, collecting bound parameters while
SQL text is assembled, a readable first line of a DuckDB error, and :func:`lock_down`,
which confines a connection to an allow-list of files before user SQL runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

__all__ = ["SqlParams", "first_line", "lock_down", "quote_ident", "quote_literal"]


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (embedded double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal; DuckDB's plain literals know no backslash escapes."""
    return "'" + text.replace("'", "''") + "'"


class SqlParams:
    """Collects bound parameter values while SQL text is assembled.

    Example:
        >>> params = SqlParams()
        >>> f"age > {params.add(18)}", params.values
        ('age > $p0', {'p0': 18})
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        """Bind ``value`` and return its placeholder (``$p0``, ``$p1``, ...)."""
        key = f"p{len(self.values)}"
        self.values[key] = value
        return "$" + key


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (DuckDB appends long hints), or its type name."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def lock_down(
    con: duckdb.DuckDBPyConnection,
    allowed_paths: Iterable[str],
    *,
    allowed_directories: Iterable[str] = (),
) -> None:
    """Confine ``con`` to ``allowed_paths`` for good, before any user SQL runs on it.

    Allow-lists the files (and directories), turns off all other file and network
    access and extension auto-install/auto-load, then locks the configuration so no
    later statement can undo any of it. Set any other options before calling this.

    Args:
        con: The connection; no user SQL may have run on it yet.
        allowed_paths: Absolute paths of the files the SQL may read or write.
        allowed_directories: Absolute paths of directories it may use (a spill folder).

    Raises:
        duckdb.Error: DuckDB refused a setting (for instance, the configuration of
            ``con`` is already locked).
    """
    directories = [quote_literal(d) for d in allowed_directories]
    if directories:
        con.execute(f"SET allowed_directories = [{', '.join(directories)}]")
    con.execute(f"SET allowed_paths = [{', '.join(quote_literal(p) for p in allowed_paths)}]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
