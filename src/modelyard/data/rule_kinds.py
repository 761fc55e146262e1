"""The rule contract, :class:`Rule`, and the rule kinds that judge one column's values.

Every rule kind is a frozen dataclass with a ``kind`` (its YAML key), a ``scope`` that
decides how it is evaluated (``row``: one condition per row, all counted in one scan;
``key``: an aggregation; ``dataset``: the table as a whole), and a name and
``on_fail`` action. Row-level kinds render a SQL condition that is TRUE for a failing
row; values always go in as bound parameters and identifiers are quoted.

The kinds here are :class:`NotNull`, :class:`InRange`, :class:`InSet` and
:class:`Matches`; those spanning columns or the whole table live in ``table_rules``.
Nulls belong to ``not_null``: ``in_range``, ``in_set`` and ``matches`` skip null
values. NaN counts as out of range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from modelyard.data._duck import SqlParams, first_line, quote_ident
from modelyard.data._rule_values import (
    Bound,
    Scalar,
    brief,
    check_bound,
    check_column,
    fits,
    is_text,
    plain_type,
    show,
)
from modelyard.data.report import ACTIONS
from modelyard.exceptions import ValidationError

__all__ = ["InRange", "InSet", "Matches", "NotNull", "Rule"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of every rule kind: a name and what to do when it fails.

    Attributes:
        name: Shown in reports; defaults to e.g. ``not_null(customer_id)``.
        on_fail: ``error``, ``warn`` or ``quarantine``; None takes the default of the
            :class:`Rules` holding it.
    """

    kind: ClassVar[str] = ""
    scope: ClassVar[str] = "row"  # "row" (one scan), "key" (an aggregation), "dataset"
    _fails: ClassVar[str] = "failing"
    _passes: ClassVar[str] = "passed"

    name: str = ""
    on_fail: str | None = None

    def __post_init__(self) -> None:
        if self.on_fail is not None and self.on_fail not in ACTIONS:
            raise ValidationError(
                f"on_fail {self.on_fail!r} is not valid; use one of: {', '.join(ACTIONS)}"
            )
        if not isinstance(self.name, str):
            raise ValidationError(f"rule name must be a string, got {brief(self.name)}")
        if not self.name:
            object.__setattr__(self, "name", self.default_name())

    @property
    def columns_used(self) -> tuple[str, ...]:
        """The dataset columns the rule reads (checked before evaluation)."""
        return ()

    def default_name(self) -> str:
        """The name used when none is given."""
        return f"{self.kind}({', '.join(self.columns_used)})"

    def params(self) -> Any:
        """The rule's parameters in YAML form (the value under its kind key)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The rule as one YAML list item: ``{kind: params, name?, on_fail?}``."""
        out: dict[str, Any] = {self.kind: self.params()}
        if self.name != self.default_name():
            out["name"] = self.name
        if self.on_fail is not None:
            out["on_fail"] = self.on_fail
        return out

    def check_schema(self, schema: pa.Schema) -> None:
        """Raise ValidationError when the rule does not fit ``schema`` (types, mostly)."""

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        """SQL that is TRUE for a failing row (NULL counts as passing); row scope only."""
        raise NotImplementedError(f"{self.kind} is not a row-level rule")

    def problems(self, schema: pa.Schema, num_rows: int) -> list[str]:
        """What is wrong with the dataset as a whole, one line each; dataset scope only."""
        raise NotImplementedError(f"{self.kind} is not a dataset-level rule")

    def fails_as(self) -> str:
        """Completes ``"N rows (P%) ..."`` in the message of a failing result."""
        return self._fails

    def passes_as(self) -> str:
        """The message of a passing result."""
        return self._passes


@dataclass(frozen=True)
class _ColumnRule(Rule):
    """A row-level rule on one column."""

    column: str

    def __post_init__(self) -> None:
        check_column(self.column)
        super().__post_init__()

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)

    def _refuse(self, value: object, what: str, typ: pa.DataType) -> None:
        raise ValidationError(
            f"rule {self.name!r}: {what} {value!r} ({type(value).__name__}) cannot be "
            f"compared with column {self.column!r} of type {typ}; use a value of the "
            "column's kind (number, date/datetime or ISO string, text, boolean)"
        )


@dataclass(frozen=True)
class NotNull(_ColumnRule):
    """Fails rows where ``column`` is null."""

    kind: ClassVar[str] = "not_null"
    _fails: ClassVar[str] = "null"
    _passes: ClassVar[str] = "no nulls"

    def params(self) -> Any:
        return self.column

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        return f"{quote_ident(self.column)} IS NULL"


@dataclass(frozen=True)
class InRange(_ColumnRule):
    """Fails rows where ``column`` is below ``min`` or above ``max`` (inclusive bounds).

    Nulls pass; NaN fails. Bounds must fit the column: numbers for numeric columns,
    dates/datetimes (or ISO strings) for date and timestamp columns, strings for text.
    """

    kind: ClassVar[str] = "in_range"
    min: Bound | None = None
    max: Bound | None = None

    def __post_init__(self) -> None:
        low, high = check_bound(self.min, "min"), check_bound(self.max, "max")
        if low is None and high is None:
            raise ValidationError(f"in_range({self.column}) needs min, max, or both")
        try:
            inverted = low is not None and high is not None and low > high  # type: ignore[operator]
        except TypeError as exc:
            raise ValidationError(
                f"in_range({self.column}): min {low!r} and max {high!r} cannot be compared; "
                "give both bounds the same type"
            ) from exc
        if inverted:
            raise ValidationError(
                f"in_range({self.column}): min {low!r} is greater than max {high!r}"
            )
        super().__post_init__()

    def params(self) -> Any:
        bounds = {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
        return {"column": self.column, **bounds}

    def check_schema(self, schema: pa.Schema) -> None:
        typ = schema.field(self.column).type
        for what, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and not fits(bound, typ):
                self._refuse(bound, what, typ)

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        col = quote_ident(self.column)
        parts = [f"{col} < {params.add(self.min)}"] if self.min is not None else []
        if self.max is not None:
            parts.append(f"{col} > {params.add(self.max)}")
        if pa.types.is_floating(plain_type(schema.field(self.column).type)):
            parts.append(f"isnan({col})")
        return "(" + " OR ".join(parts) + ")"

    def fails_as(self) -> str:
        if self.min is not None and self.max is not None:
            return f"outside [{show(self.min)}, {show(self.max)}]"
        return f"below {show(self.min)}" if self.min is not None else f"above {show(self.max)}"

    def passes_as(self) -> str:
        if self.min is not None and self.max is not None:
            return f"all non-null values within [{show(self.min)}, {show(self.max)}]"
        if self.min is not None:
            return f"all non-null values at least {show(self.min)}"
        return f"all non-null values at most {show(self.max)}"


@dataclass(frozen=True)
class InSet(_ColumnRule):
    """Fails rows where ``column`` is not one of ``values`` (nulls pass)."""

    kind: ClassVar[str] = "in_set"
    _passes: ClassVar[str] = "all non-null values in the set"
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple) or not self.values:
            raise ValidationError(
                f"in_set({self.column}) needs a non-empty list of values, got {brief(self.values)}"
            )
        for value in self.values:
            if not isinstance(value, bool | int | float | Decimal | dt.date | str):
                raise ValidationError(
                    f"in_set({self.column}): values must be strings, numbers, booleans or "
                    f"dates, got {brief(value)} ({type(value).__name__})"
                )
        super().__post_init__()

    def params(self) -> Any:
        return {"column": self.column, "values": list(self.values)}

    def check_schema(self, schema: pa.Schema) -> None:
        typ = schema.field(self.column).type
        for value in self.values:
            if not fits(value, typ):
                self._refuse(value, "value", typ)

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        listed = ", ".join(params.add(v) for v in self.values)
        return f"{quote_ident(self.column)} NOT IN ({listed})"

    def fails_as(self) -> str:
        shown = ", ".join(show(v) for v in self.values[:10])
        return f"not in {{{shown}{', ...' if len(self.values) > 10 else ''}}}"


def _check_regex(pattern: str) -> None:
    """Compile ``pattern`` with DuckDB's RE2 so a bad one fails at declaration."""
    con = duckdb.connect()
    try:
        con.execute("SELECT regexp_full_match('', $p)", {"p": pattern}).fetchall()
    except duckdb.Error as exc:
        raise ValidationError(
            f"invalid regular expression {pattern!r}: {first_line(exc)}; patterns use RE2 "
            "syntax (no lookaround or backreferences)",
            pattern=pattern,
        ) from exc
    finally:
        con.close()


@dataclass(frozen=True)
class Matches(_ColumnRule):
    """Fails rows where the text ``column`` does not fully match ``pattern`` (RE2).

    The whole value must match (``regexp_full_match``); nulls pass.
    """

    kind: ClassVar[str] = "matches"
    pattern: str

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise ValidationError(
                f"matches({self.column}): pattern must be a string, got {brief(self.pattern)}"
            )
        _check_regex(self.pattern)
        super().__post_init__()

    def params(self) -> Any:
        return {"column": self.column, "pattern": self.pattern}

    def check_schema(self, schema: pa.Schema) -> None:
        typ = schema.field(self.column).type
        if not is_text(typ):
            raise ValidationError(
                f"rule {self.name!r}: column {self.column!r} is {typ}; matches needs a text "
                "column (cast it in an sql rule: regexp_full_match(CAST(col AS VARCHAR), ...))"
            )

    def failing_sql(self, params: SqlParams, schema: pa.Schema) -> str:
        return f"NOT regexp_full_match({quote_ident(self.column)}, {params.add(self.pattern)})"

    def fails_as(self) -> str:
        return f"not matching {self.pattern!r}"

    def passes_as(self) -> str:
        return f"all non-null values match {self.pattern!r}"
