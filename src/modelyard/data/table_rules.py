"""Rule kinds that span columns or judge the whole table.

* :class:`Unique` fails *every* row of a duplicated key (files are read in parallel,
  so there is no reliable "first" row to keep); rows with a null in the key are
  skipped.
* :class:`SqlPredicate` fails a row when its predicate is false *or null*. The
  predicate is user input: it must parse as exactly one SQL expression (DuckDB's
  parser trims it to that expression), and it is inserted in parentheses on lines
  of its own.
* :class:`RowCount` and :class:`SchemaMatches` judge the dataset as a whole and
  cannot set rows aside. Schema types are Arrow type names or aliases (``int64``,
  ``double``/``float64``, ``string``/``utf8``, ``bool``, ``date32``,
  ``timestamp[us]``; ``str(arrow_type)`` for the rest). ``string`` also accepts
  ``large_string``/``string_view`` and ``binary`` ``large_binary``/``binary_view``:
  Parquet does not tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from modelyard.data._duck import SqlParams, first_line, quote_ident
from modelyard.data._rule_values import brief, check_column, check_row_limit, count_of
from modelyard.data.rule_kinds import Rule
from modelyard.exceptions import ValidationError

__all__ = ["RowCount", "SchemaMatches", "SqlPredicate", "Unique"]

_MAX_PREDICATE_CHARS = 10_000


@dataclass(frozen=True)
class Unique(Rule):
    """Fails every row whose key (one column or a combination) occurs more than once.

    Rows with a null in the key are not checked (nulls belong to ``not_null``).
    """

    kind: ClassVar[str] = "unique"
    scope: ClassVar[str] = "key"
    _fails: ClassVar[str] = "with a duplicated key"
    _passes: ClassVar[str] = "all keys unique"
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.columns, tuple) or not self.columns:
            raise ValidationError(
                f"unique needs a column name or a non-empty list of them, got {brief(self.columns)}"
            )
        for col in self.columns:
            check_column(col)
        if len(set(self.columns)) != len(self.columns):
            raise ValidationError(f"unique lists a column twice: {list(self.columns)}")
        super().__post_init__()

    @property
    def columns_used(self) -> tuple[str, ...]:
        return self.columns

    def params(self) -> Any:
        return self.columns[0] if len(self.columns) == 1 else list(self.columns)

    def key_sql(self) -> tuple[str, str]:
        """The key expression and the SQL condition that its parts are all non-null."""
        cols = [quote_ident(c) for c in self.columns]
        key = cols[0] if len(cols) == 1 else f"row({', '.join(cols)})"
        return key, " AND ".join(f"{c} IS NOT NULL" for c in cols)


@dataclass(frozen=True)
class SqlPredicate(Rule):
    """Fails rows where the SQL boolean ``predicate`` is false or null.

    The predicate must be one DuckDB expression over the columns (no ``;``, no
    statements); it is checked against the dataset before evaluation.
    """

    kind: ClassVar[str] = "sql"
    _fails: ClassVar[str] = "failing the predicate (false or null)"
    _passes: ClassVar[str] = "the predicate holds on every row"
    predicate: str
    expression: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if not isinstance(self.predicate, str) or not self.predicate.strip():
            raise ValidationError(
                f"sql predicate must be a non-empty string, got {brief(self.predicate)}"
            )
        if len(self.predicate) > _MAX_PREDICATE_CHARS:
            raise ValidationError(
                f"sql predicate is {len(self.predicate)} characters; at most "
                f"{_MAX_PREDICATE_CHARS} are allowed"
            )
        try:
            expression = str(duckdb.SQLExpression(self.predicate))
        except duckdb.Error as exc:
            raise ValidationError(
                f"sql predicate {self.predicate!r} is not a single SQL expression: "
                f"{first_line(exc)}; write one boolean expression over the columns, "
                "e.g. 'total >= 0 OR total IS NULL'",
                predicate=self.predicate,
            ) from exc
        # The parser trims the text to the one expression; own lines end any trailing comment.
        object.__setattr__(self, "expression", f"(\n{expression}\n)")
        super().__post_init__()

    def default_name(self) -> str:
        short = " ".join(self.predicate.split())
        return f"sql({short[:60]}{'...' if len(short) > 60 else ''})"

    def params(self) -> Any:
        return {"predicate": self.predicate}

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        return f"{self.expression} IS NOT TRUE"


@dataclass(frozen=True)
class RowCount(Rule):
    """Fails the dataset when its row count is below ``min`` or above ``max``."""

    kind: ClassVar[str] = "row_count"
    scope: ClassVar[str] = "dataset"
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        low = check_row_limit(self.min, "row_count min")
        high = check_row_limit(self.max, "row_count max")
        if low is None and high is None:
            raise ValidationError("row_count needs min, max, or both")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"row_count: min {low} is greater than max {high}")
        super().__post_init__()

    def default_name(self) -> str:
        return "row_count"

    def params(self) -> Any:
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}

    def problems(self, schema: pa.Schema, num_rows: int) -> list[str]:
        if self.min is not None and num_rows < self.min:
            return [f"{count_of(num_rows, 'row')}; expected at least {self.min:,}"]
        if self.max is not None and num_rows > self.max:
            return [f"{count_of(num_rows, 'row')}; expected at most {self.max:,}"]
        return []


def _type_matches(expected: str, actual: pa.DataType) -> bool:
    try:
        wanted = pa.type_for_alias(expected.strip())
    except ValueError:
        return "".join(expected.split()) == "".join(str(actual).split())
    if wanted == actual:
        return True
    # Parquet stores these alike; the Arrow flavour read back is an accident of the writer.
    same = [
        (pa.string(), (pa.large_string(), pa.string_view())),
        (pa.binary(), (pa.large_binary(), pa.binary_view())),
    ]
    return any(wanted == base and actual in variants for base, variants in same)


@dataclass(frozen=True)
class SchemaMatches(Rule):
    """Fails the dataset when a listed column is missing or has another Arrow type.

    With ``exact=True`` columns that are not listed fail it too.
    """

    kind: ClassVar[str] = "schema"
    scope: ClassVar[str] = "dataset"
    _passes: ClassVar[str] = "columns and types as expected"
    column_types: tuple[tuple[str, str], ...]
    exact: bool = False

    def __post_init__(self) -> None:
        pairs = self.column_types
        if not isinstance(pairs, tuple) or not pairs:
            raise ValidationError("schema needs a non-empty mapping of column name -> type name")
        for pair in pairs:
            if not (
                isinstance(pair, tuple)
                and len(pair) == 2
                and all(isinstance(p, str) and p for p in pair)
            ):
                raise ValidationError(
                    f"schema columns must map column names to Arrow type names like "
                    f"'int64' or 'string', got {brief(pair)}"
                )
        if not isinstance(self.exact, bool):
            raise ValidationError(f"schema exact must be true or false, got {brief(self.exact)}")
        super().__post_init__()

    def default_name(self) -> str:
        return "schema"

    def params(self) -> Any:
        return {"columns": dict(self.column_types), "exact": self.exact}

    def problems(self, schema: pa.Schema, num_rows: int) -> list[str]:
        found = []
        for name, expected in self.column_types:
            if name not in schema.names:
                found.append(f"missing column {name!r} (expected {expected})")
            elif not _type_matches(expected, schema.field(name).type):
                found.append(f"column {name!r}: expected {expected}, got {schema.field(name).type}")
        if self.exact:
            listed = {name for name, _ in self.column_types}
            found.extend(f"unexpected column {n!r}" for n in schema.names if n not in listed)
        return found
