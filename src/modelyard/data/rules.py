"""Data validation rules, declared in YAML or Python, evaluated by DuckDB over Parquet.

A dataset version is one or more Parquet files; rules never load it into memory but
run SQL over ``read_parquet([...])``: one scan counts the failures of every row-level
rule (``count(*) FILTER (WHERE ...)`` per rule), each ``unique`` rule adds one
aggregation, and only failing rules get a (``LIMIT``-ed) sample query.

YAML form (or the same structure as Python lists and dicts, see :meth:`Rules.from_dict`)::

    on_fail: error                  # default for rules that do not say: error | warn | quarantine
    rules:
      - not_null: [customer_id, signup_at]          # one rule per column
      - unique: customer_id                         # a list = a unique combination
      - in_range: {column: age, min: 18, max: 110}  # inclusive, either bound optional
      - in_set: {column: plan, values: [basic, standard, premium]}
      - matches: {column: email, pattern: '^[^@]+@[^@]+$'}  # RE2; the whole value must match
      - row_count: {min: 100, max: 10000000}
      - schema: {columns: {customer_id: string, age: int64}, exact: false}
      - sql: {name: charges_ok, predicate: "total_charges >= monthly_charges"}
        on_fail: warn

Python form: ``Rules([not_null("a"), in_range("age", min=18)], on_fail="warn")``.

Semantics:

* Nulls belong to ``not_null``: ``in_range``, ``in_set`` and ``matches`` skip null values,
  ``unique`` skips rows with a null in the key, and an ``sql`` row fails when its
  predicate is false *or null*. NaN counts as out of range.
* ``unique`` fails *every* row of a duplicated key (files are read in parallel, so there
  is no reliable "first" row to keep); quarantine sets all of them aside.
* ``row_count`` and ``schema`` judge the dataset as a whole and cannot set rows aside:
  configured ``on_fail: quarantine``, their failure is reported (and acts) as ``error``.
* Schema types are Arrow type names or aliases (``int64``, ``double``/``float64``,
  ``string``/``utf8``, ``bool``, ``date32``, ``timestamp[us]``; ``str(arrow_type)`` for
  the rest). ``string`` also accepts ``large_string``/``string_view`` and ``binary``
  ``large_binary``/``binary_view``: Parquet does not tell them apart.

Security: column names and ``sql`` predicates are user input. Identifiers are quoted,
values are bound parameters, and a predicate must parse as exactly one SQL expression
(DuckDB's parser trims it to that expression; it is inserted in parentheses on lines of
its own). Every query runs on a private connection whose external access is disabled
once the dataset files (and quarantine outputs) are allow-listed, with extension
auto-loading off and the configuration locked, so a predicate cannot read or write any
other file. A predicate can still burn CPU; run untrusted rules with a time limit.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import reprlib
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from modelyard.data.report import ACTIONS, RuleResult, ValidationReport, format_percent
from modelyard.exceptions import NotFoundError, ValidationError

__all__ = [
    "InRange",
    "InSet",
    "Matches",
    "NotNull",
    "RowCount",
    "Rule",
    "Rules",
    "SchemaMatches",
    "SqlPredicate",
    "Unique",
    "evaluate",
    "has_schema",
    "in_range",
    "in_set",
    "matches",
    "not_null",
    "quarantine",
    "row_count",
    "sql_predicate",
    "unique",
]

Bound = int | float | Decimal | dt.date | str
"""An ``in_range`` bound: a number, a date/datetime, or a string (ISO date, or text)."""
Scalar = bool | int | float | Decimal | dt.date | str
"""An ``in_set`` value."""

_MAX_PREDICATE_CHARS = 10_000
_FILE_COLUMN = "__modelyard_file"


# --- small SQL and type helpers ------------------------------------------------------


def _ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """``text`` as a SQL string literal; DuckDB's plain literals know no backslash escapes."""
    return "'" + text.replace("'", "''") + "'"


class _Params:
    """Collects bound parameter values while SQL text is assembled."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return "$" + key


def _plain_type(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _is_text(typ: pa.DataType) -> bool:
    t = _plain_type(typ)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_number(typ: pa.DataType) -> bool:
    t = _plain_type(typ)
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_datelike(typ: pa.DataType) -> bool:
    t = _plain_type(typ)
    return bool(pa.types.is_date(t) or pa.types.is_timestamp(t))


def _fits(value: object, typ: pa.DataType) -> bool:
    """Whether ``value`` compares meaningfully with a column of ``typ``."""
    if isinstance(value, bool):
        return bool(pa.types.is_boolean(_plain_type(typ)))
    if isinstance(value, int | float | Decimal):
        return _is_number(typ)
    if isinstance(value, dt.date):
        return _is_datelike(typ)
    if isinstance(value, str):  # DuckDB casts an ISO string to the date/timestamp
        return _is_text(typ) or _is_datelike(typ)
    return False


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 120
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = 6


def _brief(value: object) -> str:
    """``repr(value)``, shortened: error messages must stay readable for huge input."""
    return _BRIEF.repr(value)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _column(value: object, what: str = "column") -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{what} must be a non-empty column name string, got {_brief(value)}")
    return value


def _bound(value: object, what: str) -> Bound | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | dt.date | str):
        raise ValidationError(
            f"{what} must be a number, a date/datetime or a string, got {_brief(value)} "
            f"({type(value).__name__})"
        )
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, got {_brief(value)}")
    return value


def _row_limit(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{what} must be a whole number >= 0, got {_brief(value)}")
    return value


def _count(n: int, noun: str) -> str:
    """``1 row``, ``1,234 rows``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --- rule kinds -----------------------------------------------------------------------


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
            raise ValidationError(f"rule name must be a string, got {_brief(self.name)}")
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

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
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
        _column(self.column)
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

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
        return f"{_ident(self.column)} IS NULL"


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
                f"unique needs a column name or a non-empty list of them, got {_brief(self.columns)}"
            )
        for col in self.columns:
            _column(col)
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
        cols = [_ident(c) for c in self.columns]
        key = cols[0] if len(cols) == 1 else f"row({', '.join(cols)})"
        return key, " AND ".join(f"{c} IS NOT NULL" for c in cols)


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
        low, high = _bound(self.min, "min"), _bound(self.max, "max")
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
            if bound is not None and not _fits(bound, typ):
                self._refuse(bound, what, typ)

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
        col = _ident(self.column)
        parts = [f"{col} < {params.add(self.min)}"] if self.min is not None else []
        if self.max is not None:
            parts.append(f"{col} > {params.add(self.max)}")
        if pa.types.is_floating(_plain_type(schema.field(self.column).type)):
            parts.append(f"isnan({col})")
        return "(" + " OR ".join(parts) + ")"

    def fails_as(self) -> str:
        if self.min is not None and self.max is not None:
            return f"outside [{_show(self.min)}, {_show(self.max)}]"
        return f"below {_show(self.min)}" if self.min is not None else f"above {_show(self.max)}"

    def passes_as(self) -> str:
        if self.min is not None and self.max is not None:
            return f"all non-null values within [{_show(self.min)}, {_show(self.max)}]"
        if self.min is not None:
            return f"all non-null values at least {_show(self.min)}"
        return f"all non-null values at most {_show(self.max)}"


@dataclass(frozen=True)
class InSet(_ColumnRule):
    """Fails rows where ``column`` is not one of ``values`` (nulls pass)."""

    kind: ClassVar[str] = "in_set"
    _passes: ClassVar[str] = "all non-null values in the set"
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple) or not self.values:
            raise ValidationError(
                f"in_set({self.column}) needs a non-empty list of values, got {_brief(self.values)}"
            )
        for value in self.values:
            if not isinstance(value, bool | int | float | Decimal | dt.date | str):
                raise ValidationError(
                    f"in_set({self.column}): values must be strings, numbers, booleans or "
                    f"dates, got {_brief(value)} ({type(value).__name__})"
                )
        super().__post_init__()

    def params(self) -> Any:
        return {"column": self.column, "values": list(self.values)}

    def check_schema(self, schema: pa.Schema) -> None:
        typ = schema.field(self.column).type
        for value in self.values:
            if not _fits(value, typ):
                self._refuse(value, "value", typ)

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
        listed = ", ".join(params.add(v) for v in self.values)
        return f"{_ident(self.column)} NOT IN ({listed})"

    def fails_as(self) -> str:
        shown = ", ".join(_show(v) for v in self.values[:10])
        return f"not in {{{shown}{', ...' if len(self.values) > 10 else ''}}}"


def _check_regex(pattern: str) -> None:
    """Compile ``pattern`` with DuckDB's RE2 so a bad one fails at declaration."""
    con = duckdb.connect()
    try:
        con.execute("SELECT regexp_full_match('', $p)", {"p": pattern}).fetchall()
    except duckdb.Error as exc:
        raise ValidationError(
            f"invalid regular expression {pattern!r}: {_first_line(exc)}; patterns use RE2 "
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
                f"matches({self.column}): pattern must be a string, got {_brief(self.pattern)}"
            )
        _check_regex(self.pattern)
        super().__post_init__()

    def params(self) -> Any:
        return {"column": self.column, "pattern": self.pattern}

    def check_schema(self, schema: pa.Schema) -> None:
        typ = schema.field(self.column).type
        if not _is_text(typ):
            raise ValidationError(
                f"rule {self.name!r}: column {self.column!r} is {typ}; matches needs a text "
                "column (cast it in an sql rule: regexp_full_match(CAST(col AS VARCHAR), ...))"
            )

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
        return f"NOT regexp_full_match({_ident(self.column)}, {params.add(self.pattern)})"

    def fails_as(self) -> str:
        return f"not matching {self.pattern!r}"

    def passes_as(self) -> str:
        return f"all non-null values match {self.pattern!r}"


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
                f"sql predicate must be a non-empty string, got {_brief(self.predicate)}"
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
                f"{_first_line(exc)}; write one boolean expression over the columns, "
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

    def failing_sql(self, params: _Params, schema: pa.Schema) -> str:
        return f"{self.expression} IS NOT TRUE"


@dataclass(frozen=True)
class RowCount(Rule):
    """Fails the dataset when its row count is below ``min`` or above ``max``."""

    kind: ClassVar[str] = "row_count"
    scope: ClassVar[str] = "dataset"
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        low, high = _row_limit(self.min, "row_count min"), _row_limit(self.max, "row_count max")
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
            return [f"{_count(num_rows, 'row')}; expected at least {self.min:,}"]
        if self.max is not None and num_rows > self.max:
            return [f"{_count(num_rows, 'row')}; expected at most {self.max:,}"]
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
                    f"'int64' or 'string', got {_brief(pair)}"
                )
        if not isinstance(self.exact, bool):
            raise ValidationError(f"schema exact must be true or false, got {_brief(self.exact)}")
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


# --- the rule set and its YAML form --------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """An ordered set of rules plus the default action for those that do not set one.

    Args:
        rules: The rules; their names must be unique.
        on_fail: Default action: ``error`` (the default), ``warn`` or ``quarantine``.

    Raises:
        ValidationError: A rule is not a :class:`Rule`, two rules share a name, or
            ``on_fail`` is unknown.

    Example:
        >>> rules = Rules([not_null("id"), in_range("age", min=18)], on_fail="warn")
        >>> [r.name for r in rules.rules]
        ['not_null(id)', 'in_range(age)']
    """

    rules: Sequence[Rule] = ()
    on_fail: str = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.on_fail not in ACTIONS:
            raise ValidationError(
                f"default on_fail {self.on_fail!r} is not valid; use one of: {', '.join(ACTIONS)}"
            )
        seen: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise ValidationError(
                    f"Rules holds rule objects (not_null(...), in_range(...), ...), got {_brief(rule)}"
                )
            if rule.name in seen:
                raise ValidationError(
                    f"two rules are named {rule.name!r}; give one of them a distinct name"
                )
            seen.add(rule.name)

    def action_for(self, rule: Rule) -> str:
        """The configured action of ``rule``: its own ``on_fail`` or the default."""
        return rule.on_fail or self.on_fail

    @classmethod
    def from_yaml(cls, source: str | Path) -> Rules:
        """Parse rules from YAML text, or from a file.

        Args:
            source: A :class:`~pathlib.Path`, a one-line string ending in ``.yaml`` or
                ``.yml`` (read as a path), or YAML text.

        Raises:
            ValidationError: The YAML does not parse (the message gives the line) or
                does not describe valid rules.
            NotFoundError: ``source`` names a file that does not exist.
        """
        text = _read_yaml_source(source)
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
            raise ValidationError(
                f"rules YAML does not parse at {where}: {exc.problem or exc}",
                line=mark.line + 1 if mark else None,
            ) from exc
        except yaml.YAMLError as exc:
            raise ValidationError(f"rules YAML does not parse: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, obj: Any) -> Rules:
        """Build rules from parsed YAML: a list of rules, or ``{rules: [...], on_fail: ...}``.

        Raises:
            ValidationError: The structure, a rule kind or a rule parameter is invalid;
                the message names the rule by position.
        """
        items: Any
        default: Any
        if isinstance(obj, list):
            items, default = obj, "error"
        elif isinstance(obj, Mapping):
            unknown = [k for k in obj if k not in ("rules", "on_fail")]
            if unknown:
                raise ValidationError(
                    f"unknown top-level key(s) {unknown}; a rules document has 'rules' "
                    "(a list) and optionally 'on_fail'"
                )
            items, default = obj.get("rules"), obj.get("on_fail", "error")
            if not isinstance(items, list):
                raise ValidationError(f"'rules' must be a list of rules, got {_brief(items)}")
        else:
            raise ValidationError(
                f"a rules document is a list of rules or a mapping with 'rules:', got {_brief(obj)}"
            )
        if not isinstance(default, str):
            raise ValidationError(
                f"default on_fail must be one of {', '.join(ACTIONS)}, got {_brief(default)}"
            )
        parsed = [rule for index, item in enumerate(items) for rule in _parse_rule(item, index)]
        return cls(parsed, on_fail=default)

    def to_dict(self) -> dict[str, Any]:
        """The rules in YAML form (plain Python values); ``from_dict`` reads it back."""
        return {"on_fail": self.on_fail, "rules": [rule.to_dict() for rule in self.rules]}

    def check_columns(self, schema: pa.Schema) -> None:
        """Check that every column a rule reads exists in ``schema`` with a fitting type.

        ``schema`` rules are exempt (a missing column is what they report), and ``sql``
        predicates are checked against the data when evaluated.

        Raises:
            ValidationError: A column is unknown (the message lists the available ones)
                or its type does not fit the rule.
        """
        available = set(schema.names)
        for rule in self.rules:
            for col in rule.columns_used:
                if col not in available:
                    raise ValidationError(
                        f"unknown column {col!r} in rule {rule.name!r}; available columns: "
                        f"{', '.join(schema.names) or '(none)'}",
                        rule=rule.name,
                        column=col,
                    )
            rule.check_schema(schema)


def _read_yaml_source(source: str | Path) -> str:
    if (
        isinstance(source, str)
        and "\n" not in source
        and source.strip().endswith((".yaml", ".yml"))
    ):
        source = Path(source.strip())
    if isinstance(source, Path):
        try:
            return source.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"rules file {str(source)!r} does not exist", path=str(source)
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read rules file {str(source)!r}: {exc}") from exc
    if not isinstance(source, str):
        raise ValidationError(
            f"rules source must be YAML text or a Path, got {type(source).__name__}"
        )
    return source


def _fields(
    value: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check a mapping of rule parameters: required keys present, no unknown keys."""
    valid = ", ".join(required + optional)
    if not isinstance(value, Mapping):
        raise ValidationError(f"expected a mapping with keys {valid}, got {_brief(value)}")
    unknown = [k for k in value if k not in required + optional]
    missing = [k for k in required if k not in value]
    if unknown or missing:
        problem = f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}"
        raise ValidationError(f"{problem}; valid keys: {valid}")
    return dict(value)


def _name_list(value: Any) -> list[Any]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ValidationError(
            f"expected a column name or a list of column names, got {_brief(value)}"
        )
    return names


def _parse_not_null(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    columns = _name_list(value)
    if name and len(columns) > 1:
        raise ValidationError("a name applies to one rule; give each column its own not_null entry")
    return [NotNull(col, name=name, on_fail=on_fail) for col in columns]


def _parse_sql(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = (
        {"predicate": value}
        if isinstance(value, str)
        else _fields(value, ("predicate",), ("name",))
    )
    if "name" in f and name:
        raise ValidationError("give the sql rule's name once, inside or beside the mapping")
    return [SqlPredicate(f["predicate"], name=f.get("name", name), on_fail=on_fail)]


def _parse_schema(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = _fields(value, ("columns",), ("exact",))
    if not isinstance(f["columns"], Mapping):
        raise ValidationError(
            f"schema columns must map column names to type names, got {_brief(f['columns'])}"
        )
    pairs = tuple((k, v) for k, v in f["columns"].items())
    return [SchemaMatches(pairs, exact=f.get("exact", False), name=name, on_fail=on_fail)]


def _parse_in_set(value: Any, name: str, on_fail: str | None) -> list[Rule]:
    f = _fields(value, ("column", "values"))
    if not isinstance(f["values"], list):
        raise ValidationError(f"in_set values must be a list, got {_brief(f['values'])}")
    return [InSet(f["column"], tuple(f["values"]), name=name, on_fail=on_fail)]


_Parser = Callable[[Any, str, "str | None"], list[Rule]]
_PARSERS: dict[str, _Parser] = {
    "not_null": _parse_not_null,
    "unique": lambda v, n, o: [Unique(tuple(_name_list(v)), name=n, on_fail=o)],
    "in_range": lambda v, n, o: [
        InRange(**_fields(v, ("column",), ("min", "max")), name=n, on_fail=o)
    ],
    "in_set": _parse_in_set,
    "matches": lambda v, n, o: [Matches(**_fields(v, ("column", "pattern")), name=n, on_fail=o)],
    "row_count": lambda v, n, o: [RowCount(**_fields(v, (), ("min", "max")), name=n, on_fail=o)],
    "schema": _parse_schema,
    "sql": _parse_sql,
}
RULE_KINDS = tuple(_PARSERS)
"""Every rule kind, as spelled in YAML."""


def _parse_rule(item: Any, index: int) -> list[Rule]:
    where = f"rule #{index + 1}"
    kinds = ", ".join(RULE_KINDS)
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"{where}: expected a mapping like {{not_null: column}}, got {_brief(item)}"
        )
    found = [k for k in item if k in _PARSERS]
    unknown = [k for k in item if k not in _PARSERS and k not in ("name", "on_fail")]
    if unknown or len(found) != 1:
        problem = f"unknown key(s) {unknown}" if unknown else f"{len(found)} rule kinds {found}"
        raise ValidationError(
            f"{where}: {problem}; a rule has exactly one kind ({kinds}) and optionally "
            "name and on_fail",
            rule_index=index,
        )
    kind, name, on_fail = found[0], item.get("name", ""), item.get("on_fail")
    if not isinstance(name, str) or not (on_fail is None or isinstance(on_fail, str)):
        raise ValidationError(f"{where} ({kind}): name and on_fail must be strings")
    try:
        return _PARSERS[kind](item[kind], name, on_fail)
    except ValidationError as exc:
        raise ValidationError(
            f"{where} ({kind}): {exc.message}", rule_index=index, kind=kind
        ) from exc


# --- factories: the Python form -------------------------------------------------------


def not_null(column: str, *, name: str = "", on_fail: str | None = None) -> NotNull:
    """A rule failing rows where ``column`` is null."""
    return NotNull(column, name=name, on_fail=on_fail)


def unique(columns: str | Sequence[str], *, name: str = "", on_fail: str | None = None) -> Unique:
    """A rule failing every row whose key (a column, or a list = combination) repeats."""
    key = (columns,) if isinstance(columns, str) else tuple(columns)
    return Unique(key, name=name, on_fail=on_fail)


def in_range(
    column: str,
    *,
    min: Bound | None = None,
    max: Bound | None = None,
    name: str = "",
    on_fail: str | None = None,
) -> InRange:
    """A rule failing rows where ``column`` is outside ``[min, max]`` (inclusive)."""
    return InRange(column, min=min, max=max, name=name, on_fail=on_fail)


def in_set(
    column: str, values: Sequence[Scalar], *, name: str = "", on_fail: str | None = None
) -> InSet:
    """A rule failing rows where ``column`` is not one of ``values``."""
    if isinstance(values, str):
        raise ValidationError(f"in_set({column}) needs a list of values, got the string {values!r}")
    return InSet(column, tuple(values), name=name, on_fail=on_fail)


def matches(column: str, pattern: str, *, name: str = "", on_fail: str | None = None) -> Matches:
    """A rule failing rows where text ``column`` does not fully match the RE2 ``pattern``."""
    return Matches(column, pattern, name=name, on_fail=on_fail)


def row_count(
    *, min: int | None = None, max: int | None = None, name: str = "", on_fail: str | None = None
) -> RowCount:
    """A rule failing the dataset when its row count is outside ``[min, max]``."""
    return RowCount(min=min, max=max, name=name, on_fail=on_fail)


def has_schema(
    columns: Mapping[str, str], *, exact: bool = False, name: str = "", on_fail: str | None = None
) -> SchemaMatches:
    """A rule failing the dataset when listed columns are missing or mistyped (Arrow names)."""
    if not isinstance(columns, Mapping):
        raise ValidationError(
            f"has_schema needs a mapping of column -> type name, got {_brief(columns)}"
        )
    return SchemaMatches(tuple(columns.items()), exact=exact, name=name, on_fail=on_fail)


def sql_predicate(predicate: str, *, name: str = "", on_fail: str | None = None) -> SqlPredicate:
    """A rule failing rows where the SQL boolean ``predicate`` is false or null."""
    return SqlPredicate(predicate, name=name, on_fail=on_fail)


# --- evaluation -------------------------------------------------------------------------


def _dataset_paths(files: Sequence[str | Path] | str | Path) -> list[str]:
    """Absolute paths of existing files; DuckDB's allow-list compares path strings."""
    listed = [files] if isinstance(files, str | Path) else list(files)
    if not listed:
        raise ValidationError("no Parquet files given; a dataset version has at least one")
    paths = []
    for item in listed:
        if not isinstance(item, str | Path) or "\0" in str(item):
            raise ValidationError(f"dataset file must be a path, got {_brief(item)}")
        path = os.path.abspath(item)
        if not os.path.isfile(path):
            raise NotFoundError(f"dataset file {path!r} does not exist", path=path)
        paths.append(path)
    return paths


class _Sandbox:
    """A private DuckDB connection that can read ``paths`` (and write ``writable``) only."""

    def __init__(self, paths: list[str], writable: Sequence[str] = ()) -> None:
        self._tmp = tempfile.mkdtemp(prefix="modelyard-rules-")
        self.con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            allowed = ", ".join(_literal(p) for p in [*paths, *writable])
            # Spilling needs a directory; a fresh private one exposes nothing.
            self.con.execute(f"SET temp_directory = {_literal(self._tmp)}")
            self.con.execute(f"SET allowed_directories = [{_literal(self._tmp)}]")
            self.con.execute(f"SET allowed_paths = [{allowed}]")
            # Parquet min/max statistics leave NaN out, and DuckDB prunes and folds
            # comparisons with them, losing NaN rows (seen in 2.0): judge every row itself.
            self.con.execute("SET disabled_optimizers = 'filter_pushdown,statistics_propagation'")
            self.con.execute("SET enable_external_access = false")
            self.con.execute("SET lock_configuration = true")
        except BaseException:
            self.close()
            raise
        listed = ", ".join(_literal(p) for p in paths)
        self.source = f"read_parquet([{listed}])"
        self.located = f"read_parquet([{listed}], filename={_literal(_FILE_COLUMN)})"

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, dict(params or {})).fetchall()

    def dict_rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, dict(params))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def check_readable(self) -> None:
        """Raise ValidationError when the files cannot be scanned at all."""
        try:
            self.rows(f"SELECT count(*) FROM {self.source}")  # noqa: S608
        except duckdb.Error as exc:
            raise ValidationError(
                f"cannot read the dataset's Parquet files: {_first_line(exc)}"
            ) from exc

    def check_predicate(self, rule: SqlPredicate) -> None:
        """Bind ``rule``'s predicate without running it: columns, type, permissions."""
        expr = rule.expression
        # DESCRIBE binds without executing; WHERE rules out aggregates and windows.
        sql = f"DESCRIBE SELECT {expr} AS ok FROM {self.source} WHERE {expr}"  # noqa: S608
        try:
            kind = str(self.rows(sql)[0][1])
        except duckdb.Error as exc:
            raise ValidationError(
                f"sql rule {rule.name!r}: predicate {rule.predicate!r} is refused: "
                f"{_first_line(exc)}; it may only read the dataset's columns",
                rule=rule.name,
            ) from exc
        if kind != "BOOLEAN":
            raise ValidationError(
                f"sql rule {rule.name!r}: predicate {rule.predicate!r} is "
                f"{kind}, not BOOLEAN; write a condition such as 'a >= b'",
                rule=rule.name,
            )

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> _Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Run:
    """What every result of one evaluation needs."""

    rules: Rules
    box: _Sandbox
    schema: pa.Schema
    num_rows: int
    sample_size: int

    def result(self, rule: Rule, count: int, samples: list[Any], **extra: Any) -> RuleResult:
        percent = 100.0 * count / self.num_rows if self.num_rows else 0.0
        if count:
            message = f"{_count(count, 'row')} ({format_percent(percent)}) {rule.fails_as()}"
        else:
            message = rule.passes_as()
        fields: dict[str, Any] = {"message": message, **extra}
        return RuleResult(
            rule=rule.name,
            kind=rule.kind,
            columns=list(rule.columns_used),
            passed=count == 0 and fields.get("error") is None,
            failing_count=count,
            failing_percent=percent,
            samples=samples,
            on_fail=self.rules.action_for(rule),
            **fields,
        )

    def failed(self, rule: Rule, error: str) -> RuleResult:
        return self.result(rule, 0, [], error=error, message=f"could not be evaluated: {error}")


def _scan_counts(run: _Run, rules: list[Rule]) -> dict[str, int | str]:
    """Failing-row counts of the row-level ``rules`` from one scan (or an error each)."""
    if not rules:
        return {}
    params = _Params()
    filters = [f"count(*) FILTER (WHERE {r.failing_sql(params, run.schema)})" for r in rules]
    try:
        row = run.box.rows(f"SELECT {', '.join(filters)} FROM {run.box.source}", params.values)  # noqa: S608 - identifiers quoted, values bound
        return {rule.name: int(n) for rule, n in zip(rules, row[0], strict=True)}
    except duckdb.Error:
        run.box.check_readable()
    # One rule failed at run time (a bad cast, say); count each alone so the rest report.
    counts: dict[str, int | str] = {}
    for rule in rules:
        one = _Params()
        sql = f"SELECT count(*) FILTER (WHERE {rule.failing_sql(one, run.schema)}) FROM {run.box.source}"  # noqa: S608
        try:
            counts[rule.name] = int(run.box.rows(sql, one.values)[0][0])
        except duckdb.Error as exc:
            counts[rule.name] = _first_line(exc)
    return counts


def _row_samples(run: _Run, rule: Rule) -> list[Any]:
    """A few failing values (rows for ``sql``, locations for ``not_null``), file order."""
    params = _Params()
    where = rule.failing_sql(params, run.schema)
    params.values["limit"] = run.sample_size
    if isinstance(rule, NotNull) and not {"file_row_number", _FILE_COLUMN} & set(run.schema.names):
        sql = f"SELECT {_ident(_FILE_COLUMN)}, file_row_number FROM {run.box.located} WHERE {where} LIMIT $limit"  # noqa: S608
        return [{"file": f, "row": int(n)} for f, n in run.box.rows(sql, params.values)]
    if isinstance(rule, SqlPredicate):
        sql = f"SELECT * FROM {run.box.source} WHERE {where} LIMIT $limit"  # noqa: S608
        return run.box.dict_rows(sql, params.values)
    column = _ident(rule.columns_used[0])
    sql = f"SELECT {column} FROM {run.box.source} WHERE {where} LIMIT $limit"  # noqa: S608
    return [value for (value,) in run.box.rows(sql, params.values)]


def _unique_result(run: _Run, rule: Unique) -> RuleResult:
    key, non_null = rule.key_sql()
    sql = (
        "SELECT count(*), coalesce(sum(n), 0), min(k, $limit) FROM ("  # noqa: S608
        f"SELECT {key} AS k, count(*) AS n FROM {run.box.source} WHERE {non_null} "
        "GROUP BY ALL HAVING count(*) > 1)"
    )
    try:
        keys, count, smallest = run.box.rows(sql, {"limit": max(run.sample_size, 1)})[0]
    except duckdb.Error as exc:
        return run.failed(rule, _first_line(exc))
    samples = list(smallest or [])[: run.sample_size]
    if len(rule.columns) > 1:
        samples = [dict(zip(rule.columns, row, strict=True)) for row in samples]
    result = run.result(rule, int(count), samples)
    if count:
        result.message += f" ({_count(int(keys), 'distinct key')})"
    return result


def _dataset_result(run: _Run, rule: Rule) -> RuleResult:
    problems = rule.problems(run.schema, run.num_rows)
    passed_as = _count(run.num_rows, "row") if isinstance(rule, RowCount) else rule.passes_as()
    message = "; ".join(problems) or passed_as
    action = run.rules.action_for(rule)
    if problems and action == "quarantine":
        action = "error"
        message += " (on_fail quarantine acts as error: a dataset-level rule sets no rows aside)"
    return RuleResult(
        rule=rule.name,
        kind=rule.kind,
        columns=list(rule.columns_used),
        passed=not problems,
        samples=problems,
        on_fail=action,
        message=message,
    )


def evaluate(
    rules: Rules,
    files: Sequence[str | Path],
    *,
    schema: pa.Schema,
    num_rows: int,
    sample_size: int = 5,
) -> ValidationReport:
    """Evaluate ``rules`` over a dataset's Parquet files, without loading them.

    Args:
        rules: The rules.
        files: The dataset's Parquet files (read as one table).
        schema: The dataset's Arrow schema (for column checks and ``schema`` rules).
        num_rows: The dataset's row count (for ``row_count`` and percentages).
        sample_size: At most this many samples per failing rule.

    Returns:
        One result per rule, in rule order; it never raises for failing data (see
        :meth:`ValidationReport.raise_for_errors`).

    Raises:
        ValidationError: A rule names an unknown column or does not fit its type, an
            ``sql`` predicate does not bind (or reaches outside the data), or the
            files cannot be read.
        NotFoundError: A file does not exist.
    """
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise ValidationError(f"sample_size must be a whole number >= 0, got {_brief(sample_size)}")
    rules.check_columns(schema)
    paths = _dataset_paths(files)
    started = time.perf_counter()
    with _Sandbox(paths) as box:
        for rule in rules.rules:
            if isinstance(rule, SqlPredicate):
                box.check_predicate(rule)
        run = _Run(rules, box, schema, num_rows, sample_size)
        counts = _scan_counts(run, [r for r in rules.rules if r.scope == "row"])
        results = [_result(run, rule, counts) for rule in rules.rules]
    return ValidationReport(results, num_rows, time.perf_counter() - started)


def _result(run: _Run, rule: Rule, counts: Mapping[str, int | str]) -> RuleResult:
    if rule.scope == "dataset":
        return _dataset_result(run, rule)
    if isinstance(rule, Unique):
        return _unique_result(run, rule)
    count = counts[rule.name]
    if isinstance(count, str):
        return run.failed(rule, count)
    try:
        samples = _row_samples(run, rule) if count and run.sample_size else []
    except duckdb.Error as exc:
        return run.failed(rule, _first_line(exc))
    return run.result(rule, count, samples)


def _quarantine_flag(rules: list[Rule], box: _Sandbox, schema: pa.Schema, params: _Params) -> str:
    """SQL that is TRUE (never NULL) for rows failing any of the row-level ``rules``."""
    parts = []
    for rule in rules:
        if isinstance(rule, Unique):
            key, non_null = rule.key_sql()
            dups = (
                f"SELECT {key} FROM {box.source} WHERE {non_null} GROUP BY ALL HAVING count(*) > 1"  # noqa: S608
            )
            parts.append(f"coalesce({key} IN ({dups}), false)")
        else:
            parts.append(f"coalesce({rule.failing_sql(params, schema)}, false)")
    return " OR ".join(parts) or "false"


def quarantine(
    rules: Rules, files: Sequence[str | Path], *, out_good: Path, out_bad: Path
) -> tuple[int, int]:
    """Split a dataset by its ``quarantine`` rules into good and bad Parquet files.

    A row is bad when it fails any row-level rule whose action is ``quarantine``
    (``not_null``, ``in_range``, ``in_set``, ``matches``, ``sql``, and ``unique``, which
    sets aside every row of a duplicated key). Other rules, and dataset-level rules,
    are not consulted: evaluate them with :func:`evaluate`. Both files are written by
    DuckDB ``COPY`` in a streaming fashion (each file scans the data once, plus one
    aggregation per ``unique`` rule); row order is not guaranteed.

    Args:
        rules: The rules.
        files: The dataset's Parquet files.
        out_good: Where to write the rows that pass (parent folders are created).
        out_bad: Where to write the rows that fail.

    Returns:
        ``(good_rows, bad_rows)``; they add up to the dataset's row count.

    Raises:
        ValidationError: A rule does not fit the data, or an output path is an input
            or the other output.
        NotFoundError: A file does not exist.
    """
    paths = _dataset_paths(files)
    good, bad = os.path.abspath(out_good), os.path.abspath(out_bad)
    if good == bad or {good, bad} & set(paths):
        raise ValidationError(
            f"out_good {good!r} and out_bad {bad!r} must differ from each other and from "
            "the dataset's files"
        )
    schema = pq.read_schema(paths[0])  # the footer only; DuckDB unifies the files by position
    rules.check_columns(schema)
    chosen = [
        r for r in rules.rules if r.scope != "dataset" and rules.action_for(r) == "quarantine"
    ]
    for out in (good, bad):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    with _Sandbox(paths, writable=[good, bad]) as box:
        for rule in chosen:
            if isinstance(rule, SqlPredicate):
                box.check_predicate(rule)
        params = _Params()
        flag = _quarantine_flag(chosen, box, schema, params)
        counts = []
        for target, where in ((good, f"NOT ({flag})"), (bad, flag)):
            sql = f"COPY (SELECT * FROM {box.source} WHERE {where}) TO {_literal(target)} (FORMAT parquet, USE_TMP_FILE false)"  # noqa: S608
            try:
                counts.append(int(box.rows(sql, params.values)[0][0]))
            except duckdb.Error as exc:
                raise ValidationError(
                    f"quarantine failed writing {target!r}: {_first_line(exc)}"
                ) from exc
    return counts[0], counts[1]
