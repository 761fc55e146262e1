"""Request values to graph-convention columns, one column at a time, without pandas.

Each converter takes the flat values of one column (Python values from JSON, or a
numpy array from a binary tensor) and returns the ``[N]`` array the ONNX graph reads,
or a problem: one sentence saying what was expected, what came, and in which row
(0-based), for the caller to collect into one :class:`SignatureError`.

What each kind accepts from JSON (a JSON API gets typed JSON: text that looks like a
number is not a number here):

- ``numeric``: numbers; ``null`` is missing. NaN and infinity are refused.
- ``boolean``: ``true``/``false`` or the numbers 0/1; ``null`` is missing.
- ``categorical``: strings (numbers are turned into their text); ``null`` is missing,
  ``""`` is a level of its own (sent to the graph as ``EMPTY_LEVEL``).
- ``datetime``: ISO 8601 strings (``2024-05-01``, ``2024-05-01T12:30:00.5+02:00``,
  ``...Z``), kept to the microsecond; aware times are converted to UTC, naive ones are
  taken as UTC; ``null`` is missing.
"""

from __future__ import annotations

import math
import reprlib
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelyard.registry.onnx_model import EMPTY_LEVEL

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)
_EPOCH = datetime(1970, 1, 1)  # naive: times are compared as naive UTC
_NONE = type(None)

# The Python types a JSON value may have, per column kind.
ACCEPTED: dict[str, frozenset[type]] = {
    "numeric": frozenset({int, float, _NONE}),
    "boolean": frozenset({bool, int, float, _NONE}),
    "categorical": frozenset({str, int, float, bool, _NONE}),
    "datetime": frozenset({str, _NONE}),
}
EXPECTED: dict[str, str] = {
    "numeric": "a number or null",
    "boolean": "true, false, 0, 1 or null",
    "categorical": "a string or null",
    "datetime": "an ISO 8601 date/time string (e.g. '2024-05-01T12:30:00Z') or null",
}

Converted = tuple[np.ndarray | None, str | None]
"""The column's values (``[N]``), or None and the problem."""


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 3, 4, 4, 40
    return short


_SHORT = _short_repr()


def describe(value: Any) -> str:
    """A short ``repr`` of a value for a message (never the whole of a huge or deeply
    nested one: only a few levels and items are looked at)."""
    if isinstance(value, str | bytes) and len(value) > 40:
        return f"{value[:40]!r}... ({len(value)} long)"
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def where(rows: list[int]) -> str:
    """``(row 3)`` / ``(row 3 and 11 more rows)``."""
    more = f" and {len(rows) - 1} more row{'s' if len(rows) > 2 else ''}" if len(rows) > 1 else ""
    return f"(row {rows[0]}{more})"


def wrong_types(values: list[Any], accepted: frozenset[type], expected: str) -> str | None:
    """The problem with values whose type is not accepted, or None when all are."""
    if set(map(type, values)) <= accepted:
        return None
    rows = [i for i, v in enumerate(values) if type(v) not in accepted]
    return f"expected {expected}, got {describe(values[rows[0]])} {where(rows)}"


def convert(values: list[Any], kind: str, *, nan_is_missing: bool = False) -> Converted:
    """One column of JSON values as the graph's array for ``kind``.

    Args:
        values: The column's values, one per row.
        kind: ``numeric``, ``boolean``, ``categorical`` or ``datetime``.
        nan_is_missing: Read a float NaN as missing (tensors have no null) instead of
            refusing it.
    """
    accepted = ACCEPTED.get(kind, ACCEPTED["numeric"])
    problem = wrong_types(values, accepted, EXPECTED.get(kind, EXPECTED["numeric"]))
    if problem is not None:
        return None, problem
    if kind == "categorical":
        return to_text(values), None
    if kind == "datetime":
        return to_nanoseconds(values)
    doubles, problem = to_doubles(values)
    if doubles is None:
        return None, problem
    if not nan_is_missing:
        nans = np.flatnonzero(np.isnan(doubles)).tolist()
        rows = [i for i in nans if values[i] is not None]
        if rows:
            return None, f"expected finite numbers or null, got nan {where(rows)}"
    return check_doubles(doubles, kind)


def to_doubles(values: list[Any]) -> Converted:
    """Numbers (and booleans) as float64; None becomes NaN."""
    try:
        return np.array(values, dtype=np.float64), None
    except OverflowError:
        rows = [i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > 2**1023]
        return None, f"expected a number within +-1.8e308, got a longer integer {where(rows)}"


def check_doubles(doubles: np.ndarray, kind: str) -> Converted:
    """Refuse infinities (and, for booleans, anything but 0/1); NaN stays missing."""
    values = doubles.astype(np.float64, copy=False)
    infinite = np.flatnonzero(np.isinf(values)).tolist()
    if infinite:
        shown = describe(float(values[infinite[0]]))
        return None, f"expected finite numbers, got {shown} {where(infinite)}"
    if kind == "boolean":
        bad = np.flatnonzero(~(np.isnan(values) | (values == 0.0) | (values == 1.0))).tolist()
        if bad:
            shown = describe(float(values[bad[0]]))
            return None, f"expected {EXPECTED['boolean']}, got {shown} {where(bad)}"
    return values, None


def to_text(values: list[Any]) -> np.ndarray:
    """Categories as str objects: missing ``""``, a present ``""`` as ``EMPTY_LEVEL``."""
    if set(map(type, values)) <= {str, _NONE}:
        text = np.array(values, dtype=object)
    else:
        text = np.array([_level(v) for v in values], dtype=object)
    missing = text == None  # noqa: E711 - elementwise on an object array
    text[text == ""] = EMPTY_LEVEL
    text[missing] = ""
    return text


def _level(value: Any) -> str | None:
    if value is None or (type(value) is float and math.isnan(value)):
        return None
    return value if type(value) is str else str(value)


def to_nanoseconds(values: list[Any]) -> Converted:
    """ISO 8601 strings as int64 nanoseconds since the epoch (UTC); missing ``INT64_MIN``."""
    stamps: list[int] = []
    bad: list[int] = []
    for row, value in enumerate(values):
        stamp = INT64_MIN if value is None else iso_to_nanoseconds(value)
        if stamp is None:
            bad.append(row)
            stamp = INT64_MIN
        stamps.append(stamp)
    if bad:
        shown = describe(values[bad[0]])
        return None, f"expected {EXPECTED['datetime']} (years 1678-2261), got {shown} {where(bad)}"
    return np.array(stamps, dtype=np.int64), None


def iso_to_nanoseconds(text: str) -> int | None:
    """Nanoseconds since 1970-01-01 UTC for an ISO 8601 string, None if it is not one
    (or lies outside what int64 nanoseconds can hold, years 1678-2261)."""
    if len(text) > 64:  # no valid ISO 8601 time is this long
        return None
    try:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    delta = stamp - _EPOCH
    nanoseconds = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    return nanoseconds if INT64_MIN < nanoseconds <= INT64_MAX else None


def decode_utf8(items: list[bytes]) -> tuple[list[str] | None, str | None]:
    """BYTES tensor elements as text, or the problem with the first that is not UTF-8."""
    try:
        return [item.decode("utf-8") for item in items], None
    except UnicodeDecodeError:
        rows = []
        for row, item in enumerate(items):
            try:
                item.decode("utf-8")
            except UnicodeDecodeError:
                rows.append(row)
        return None, f"expected UTF-8 text, got {describe(items[rows[0]])} {where(rows)}"
