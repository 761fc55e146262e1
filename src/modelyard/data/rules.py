"""Data validation rules, declared in YAML or Python, evaluated by DuckDB over Parquet.

The front door to rules; the parts live in their own modules:

* ``rule_kinds`` -- the :class:`Rule` contract and the one-column kinds
  (``not_null``, ``in_range``, ``in_set``, ``matches``);
* ``table_rules`` -- kinds spanning columns or the table (``unique``, ``sql``,
  ``row_count``, ``schema``);
* ``rule_set`` -- the :class:`Rules` collection and its YAML form;
* ``validation`` -- :func:`evaluate` and :func:`quarantine`, in a locked-down DuckDB.

Python form: ``Rules([not_null("a"), in_range("age", min=18)], on_fail="warn")``,
built with the constructors below. YAML form: see :meth:`Rules.from_yaml`::

    on_fail: warn
    rules:
      - not_null: [customer_id, signup_at]
      - in_range: {column: age, min: 18, max: 110}

Semantics: nulls belong to ``not_null`` (the other value rules skip them, an ``sql``
row fails when its predicate is false *or null*); ``unique`` fails every row of a
duplicated key; ``row_count`` and ``schema`` judge the whole dataset and cannot set
rows aside, so their ``on_fail: quarantine`` acts as ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelyard.data._rule_values import Bound, Scalar, brief
from modelyard.data.rule_kinds import InRange, InSet, Matches, NotNull, Rule
from modelyard.data.rule_set import RULE_KINDS as RULE_KINDS
from modelyard.data.rule_set import Rules
from modelyard.data.table_rules import RowCount, SchemaMatches, SqlPredicate, Unique
from modelyard.data.validation import evaluate, quarantine
from modelyard.exceptions import ValidationError

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
            f"has_schema needs a mapping of column -> type name, got {brief(columns)}"
        )
    return SchemaMatches(tuple(columns.items()), exact=exact, name=name, on_fail=on_fail)


def sql_predicate(predicate: str, *, name: str = "", on_fail: str | None = None) -> SqlPredicate:
    """A rule failing rows where the SQL boolean ``predicate`` is false or null."""
    return SqlPredicate(predicate, name=name, on_fail=on_fail)
