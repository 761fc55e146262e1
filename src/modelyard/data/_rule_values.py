"""Values in validation rules: checking them, fitting them to Arrow types, showing them.

Shared by the rule kinds (``rule_kinds``, ``table_rules``), the YAML form
(``rule_set``) and evaluation (``validation``). Messages built here name the bad
value, shortened so that huge or hostile input keeps them readable.
"""

from __future__ import annotations

import datetime as dt
import math
import reprlib
from decimal import Decimal

import pyarrow as pa

from modelyard.exceptions import ValidationError

__all__ = [
    "Bound",
    "Scalar",
    "brief",
    "check_bound",
    "check_column",
    "check_row_limit",
    "count_of",
    "fits",
    "is_text",
    "plain_type",
    "show",
]

Bound = int | float | Decimal | dt.date | str
"""An ``in_range`` bound: a number, a date/datetime, or a string (ISO date, or text)."""
Scalar = bool | int | float | Decimal | dt.date | str
"""An ``in_set`` value."""


def plain_type(typ: pa.DataType) -> pa.DataType:
    """The value type of a dictionary-encoded type; ``typ`` itself otherwise."""
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def is_text(typ: pa.DataType) -> bool:
    """Whether ``typ`` holds strings (any Arrow string flavour, dictionary or not)."""
    t = plain_type(typ)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_number(typ: pa.DataType) -> bool:
    t = plain_type(typ)
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_datelike(typ: pa.DataType) -> bool:
    t = plain_type(typ)
    return bool(pa.types.is_date(t) or pa.types.is_timestamp(t))


def fits(value: object, typ: pa.DataType) -> bool:
    """Whether ``value`` compares meaningfully with a column of ``typ``."""
    if isinstance(value, bool):
        return bool(pa.types.is_boolean(plain_type(typ)))
    if isinstance(value, int | float | Decimal):
        return _is_number(typ)
    if isinstance(value, dt.date):
        return _is_datelike(typ)
    if isinstance(value, str):  # DuckDB casts an ISO string to the date/timestamp
        return is_text(typ) or _is_datelike(typ)
    return False


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 120
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = 6


def brief(value: object) -> str:
    """``repr(value)``, shortened: error messages must stay readable for huge input."""
    return _BRIEF.repr(value)


def show(value: object) -> str:
    """``value`` as a report shows it: strings quoted, everything else as ``str``."""
    return repr(value) if isinstance(value, str) else str(value)


def count_of(n: int, noun: str) -> str:
    """``1 row``, ``1,234 rows``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def check_column(value: object, what: str = "column") -> str:
    """``value`` if it is a non-empty column name.

    Raises:
        ValidationError: It is not a non-empty string.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{what} must be a non-empty column name string, got {brief(value)}")
    return value


def check_bound(value: object, what: str) -> Bound | None:
    """``value`` if it can be an ``in_range`` bound (None for no bound).

    Raises:
        ValidationError: It is a boolean, another type, or a NaN/infinite number.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | dt.date | str):
        raise ValidationError(
            f"{what} must be a number, a date/datetime or a string, got {brief(value)} "
            f"({type(value).__name__})"
        )
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, got {brief(value)}")
    return value


def check_row_limit(value: object, what: str) -> int | None:
    """``value`` if it can be a ``row_count`` limit (None for no limit).

    Raises:
        ValidationError: It is not a whole number >= 0.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{what} must be a whole number >= 0, got {brief(value)}")
    return value
