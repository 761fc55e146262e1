"""SQL over dataset versions, in DuckDB: ``SELECT ... FROM churn@3``.

Each ``name@version`` (or bare dataset name) in the query becomes a view over
that version's Parquet parts. The connection is then locked down: no file or
network access beyond those parts, no extension loading, no configuration
changes, so a query can read datasets and nothing else on the machine.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from modelyard.data._duck import lock_down
from modelyard.data.refs import REF_PATTERN, parse_ref
from modelyard.exceptions import NotFoundError, ValidationError

if TYPE_CHECKING:
    from modelyard.data.client import DataClient

__all__ = ["MAX_QUERY_CHARS", "rewrite_refs", "run_query"]

MAX_QUERY_CHARS = 100_000
# Quoted strings and identifiers are copied as they are; refs are found outside them.
_TOKENS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(?P<ref>"
    + REF_PATTERN.pattern.replace("(?P<name>", "(?:").replace("(?P<version>", "(?:")
    + r")",
    re.DOTALL,
)


def rewrite_refs(sql: str) -> str:
    """Quote every ``name@version`` outside strings so DuckDB reads it as one table name."""

    def quote(match: re.Match[str]) -> str:
        ref = match["ref"]
        if ref is None or "@" not in ref:
            return match.group(0)
        return '"' + ref + '"'

    return _TOKENS.sub(quote, sql)


def run_query(sql: str, client: DataClient) -> pa.Table:
    """Run ``sql`` over the datasets it names and return the result as an Arrow table.

    Raises:
        ValidationError: Empty, too long, several statements, a syntax error, or
            an attempt to touch files or settings.
        NotFoundError: A named dataset or version does not exist.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError("the query is empty; write e.g. SELECT count(*) FROM churn@latest")
    if len(sql) > MAX_QUERY_CHARS:
        raise ValidationError(f"the query is {len(sql)} characters; the limit is {MAX_QUERY_CHARS}")
    text = rewrite_refs(sql)
    try:
        statements = duckdb.extract_statements(text)
        if len(statements) != 1:
            raise ValidationError(f"give exactly one SQL statement, got {len(statements)}")
        tables = duckdb.get_table_names(text)
    except duckdb.Error as exc:
        raise ValidationError(f"the query does not parse: {exc}") from None
    con = duckdb.connect(":memory:")
    try:
        allowed: list[str] = []
        for table in sorted(tables):
            files = _files_for(table, client)
            if files is None:
                continue  # a CTE or subquery alias, not a dataset
            allowed.extend(files)
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            # ``table`` matched REF_PATTERN (letters, digits, _ . - @), so quoting is safe.
            view = f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet([{listing}])'  # noqa: S608
            con.execute(view)
        lock_down(con, allowed)
        try:
            relation = con.sql(text)
            return pa.table({}) if relation is None else relation.to_arrow_table()
        except duckdb.PermissionException as exc:
            raise ValidationError(
                f"the query may only read datasets ({exc}); name them as NAME or NAME@VERSION"
            ) from None
        except duckdb.Error as exc:
            raise ValidationError(f"the query failed: {exc}") from None
    finally:
        con.close()


def _files_for(table: str, client: DataClient) -> list[str] | None:
    if not REF_PATTERN.fullmatch(table):
        return None
    ref = parse_ref(table)
    try:
        dataset = client.get(ref)
    except NotFoundError:
        if "@" in table:
            raise
        return None  # a bare name that is not a dataset: a CTE, or DuckDB will say
    return [str(path) for path in dataset.files()]
