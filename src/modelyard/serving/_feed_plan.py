"""The fast path from JSON rows to feeds: one plan per model signature, few numpy calls.

:mod:`modelyard.serving.codec` converts a request column by column, which is what it
takes to name every problem precisely, but costs several numpy calls per column: for a
one-row request to a 20-column model that is most of the request's time. A
:class:`FeedPlan` is compiled once per served model and converts a *well-formed*
request with a handful of calls whatever its width:

- every numeric and boolean value goes into one float64 array (``[k, N, 1]``; each
  column's feed is a contiguous view of it), checked with one ``isfinite``;
- every categorical value into one object array, the same way;
- every datetime into one int64 array (parsed one by one, as in the codec).

A one-row request without datetimes (nearly all traffic) makes no array at all: its
values are checked the same way (finiteness with one ``sum``) and kept as a tuple per
block, and its batch stacks the tuples of all its requests (``BlockFeeds.row``).

The plan only accepts what the detailed path would accept *unchanged*: exact JSON types
(numbers for numeric columns, ``true``/``false``/0/1 for boolean ones, strings for
categorical and datetime ones, ``null`` anywhere), known columns, every used column
present. Anything else (a number for a categorical column, a bad value, a missing
column) makes it return ``None``, and the caller takes the detailed path, which either
converts it or raises the error that names every problem. So the two paths give the
same feeds and the same errors; tests check that on every kind of input.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from modelyard.registry.onnx_model import EMPTY_LEVEL
from modelyard.serving._blocks import BlockFeeds, BlockLayout
from modelyard.serving._values import to_nanoseconds

__all__ = ["FeedPlan"]

_NONE = type(None)
_NAN = float("nan")
_NUMBER_TYPES = frozenset({int, float, _NONE})
_BOOLEAN_TYPES = frozenset({bool, int, float, _NONE})
_BOOLEAN_VALUES = frozenset({0, 1, None})  # True == 1 and 0.0 == 0 hash alike
_TEXT_TYPES = frozenset({str, _NONE})

Planned = tuple[BlockFeeds, int]
"""Feeds (one ``[N, 1]`` array per used column) and N."""


class FeedPlan:
    """How one signature's used columns become feeds, compiled once.

    Args:
        signature: The model version's signature (``inputs``: name, kind, used).

    Example:
        >>> plan = FeedPlan(model.signature)
        >>> planned = plan.from_records(payload["records"], max_rows=100_000)
        >>> feeds, rows = planned if planned is not None else (detailed(...), n)
    """

    def __init__(self, signature: dict[str, Any]) -> None:
        inputs = [c for c in signature.get("inputs", []) if isinstance(c, dict)]
        used = [c for c in inputs if c.get("used", True)]
        kinds = {c["name"]: c.get("kind", "numeric") for c in used}
        self.numbers = [
            n for n, k in kinds.items() if k not in ("boolean", "categorical", "datetime")
        ]
        self.booleans = [n for n, k in kinds.items() if k == "boolean"]
        self.texts = tuple(n for n, k in kinds.items() if k == "categorical")
        self.datetimes = tuple(n for n, k in kinds.items() if k == "datetime")
        self.doubles = tuple(self.numbers + self.booleans)
        self.used = frozenset(kinds)
        self.known = frozenset(c["name"] for c in inputs)
        # Feeds keep the signature's column order (the prediction log's columns follow it).
        self.order = tuple(kinds)
        blocks = [(self.doubles, "<f8"), (self.texts, "|O"), (self.datetimes, "<i8")]
        self.layout = BlockLayout(self.order, tuple((n, d) for n, d in blocks if n))
        # A record holding exactly the used columns is read with one C call per kind.
        self._pick = tuple(
            _getter(names) for names in (self.numbers, self.booleans, self.texts, self.datetimes)
        )

    def from_records(self, records: Any, *, max_rows: int) -> Planned | None:
        """Feeds from ``[{column: value}, ...]``, or None to take the detailed path."""
        if type(records) is not list or not 0 < len(records) <= max_rows:
            return None
        present: Collection[str]
        if len(records) == 1:  # the common case, kept to one pass per kind
            record = records[0]
            if type(record) is not dict:
                return None
            if len(record) == len(self.used):  # all used columns, or one is missing
                try:
                    numbers, booleans, texts, datetimes = (pick(record) for pick in self._pick)
                except KeyError:
                    return None
                return self._one_row(numbers, booleans, texts, datetimes)
            present = record.keys()
            if not (self.used <= present and present <= self.known):
                return None
            get = record.get
            return self._one_row(
                tuple(get(name) for name in self.numbers),
                tuple(get(name) for name in self.booleans),
                tuple(get(name) for name in self.texts),
                tuple(get(name) for name in self.datetimes),
            )
        if set(map(type, records)) != {dict}:
            return None
        present = set().union(*records)
        if not (self.used <= present and present <= self.known):
            return None
        return self._build(
            [r.get(name) for name in self.numbers for r in records],
            [r.get(name) for name in self.booleans for r in records],
            [r.get(name) for name in self.texts for r in records],
            [r.get(name) for name in self.datetimes for r in records],
            len(records),
        )

    def from_columns(self, columns: Any, data: Any, *, max_rows: int) -> Planned | None:
        """Feeds from ``columns`` + ``data`` rows, or None to take the detailed path."""
        if type(columns) is not list or type(data) is not list or not 0 < len(data) <= max_rows:
            return None
        width = len(columns)
        if set(map(type, columns)) != {str} or len(set(columns)) != width:
            return None
        if not (self.used <= set(columns) <= self.known):
            return None
        if any(type(row) is not list or len(row) != width for row in data):
            return None
        at = {name: i for i, name in enumerate(columns)}
        if len(data) == 1:
            row = data[0]
            return self._one_row(
                tuple(row[at[name]] for name in self.numbers),
                tuple(row[at[name]] for name in self.booleans),
                tuple(row[at[name]] for name in self.texts),
                tuple(row[at[name]] for name in self.datetimes),
            )
        return self._build(
            [row[at[name]] for name in self.numbers for row in data],
            [row[at[name]] for name in self.booleans for row in data],
            [row[at[name]] for name in self.texts for row in data],
            [row[at[name]] for name in self.datetimes for row in data],
            len(data),
        )

    def _one_row(
        self,
        numbers: tuple[Any, ...],
        booleans: tuple[Any, ...],
        texts: tuple[Any, ...],
        datetimes: tuple[Any, ...],
    ) -> Planned | None:
        """Feeds of one row, its values checked here and kept as Python values: the batch
        makes the arrays of all its one-row requests at once (see ``BlockFeeds.row``)."""
        if datetimes:  # parsed to nanoseconds as for many rows
            return self._build(list(numbers), list(booleans), list(texts), list(datetimes), 1)
        values: list[tuple[Any, ...]] = []
        if self.doubles:
            if not _numbers_ok(numbers, booleans):
                return None
            flat = numbers + booleans
            finite = _finite(flat)
            if finite is None:
                return None
            values.append(flat if finite else tuple(_NAN if v is None else v for v in flat))
        if self.texts:
            if not set(map(type, texts)) <= _TEXT_TYPES:
                return None
            values.append(tuple("" if v is None else (v or EMPTY_LEVEL) for v in texts))
        return BlockFeeds.row(self.layout, tuple(values)), 1

    def _build(
        self,
        numbers: list[Any],
        booleans: list[Any],
        texts: list[Any],
        datetimes: list[Any],
        rows: int,
    ) -> Planned | None:
        """Feeds from the values of each kind, column after column (``rows`` each)."""
        blocks: list[np.ndarray] = []
        if self.doubles:
            if not _numbers_ok(numbers, booleans):
                return None
            flat = numbers + booleans
            try:
                matrix = np.array(flat, dtype=np.float64)
            except (OverflowError, ValueError, TypeError):
                return None
            # Each null is one NaN; any other non-finite value is refused by the codec.
            if int(np.count_nonzero(~np.isfinite(matrix))) != flat.count(None):
                return None
            blocks.append(matrix.reshape(len(self.doubles), rows, 1))
        if self.texts:
            if not set(map(type, texts)) <= _TEXT_TYPES:
                return None
            levels = np.array(
                ["" if v is None else (v or EMPTY_LEVEL) for v in texts], dtype=object
            )
            blocks.append(levels.reshape(len(self.texts), rows, 1))
        if self.datetimes:
            if not set(map(type, datetimes)) <= _TEXT_TYPES:
                return None
            stamps, problem = to_nanoseconds(datetimes)
            if stamps is None or problem is not None:
                return None
            blocks.append(stamps.reshape(len(self.datetimes), rows, 1))
        return BlockFeeds(self.layout, blocks), rows


def _getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """``record -> (record[name], ...)`` in C; raises KeyError for a missing name."""
    if not names:
        return lambda _record: ()
    if len(names) == 1:
        name = names[0]
        return lambda record: (record[name],)
    return itemgetter(*names)


def _numbers_ok(numbers: Sequence[Any], booleans: Sequence[Any]) -> bool:
    """Whether the values of numeric columns are JSON numbers or null, and those of
    boolean columns true, false, 0, 1 or null (exact types: the codec's rules)."""
    if not set(map(type, numbers)) <= _NUMBER_TYPES:
        return False
    return not booleans or (
        set(map(type, booleans)) <= _BOOLEAN_TYPES and set(booleans) <= _BOOLEAN_VALUES
    )


def _finite(values: tuple[Any, ...]) -> bool | None:
    """Whether the values (ints, floats, bools, Nones) are all finite float64s: True; all
    finite or None, with a None: False; None if any is not finite or too large.

    One ``sum`` instead of an array: a NaN or an infinity makes the sum NaN or infinite,
    and an int too large for a float64 raises. A sum that overflows a float64 refuses
    finite values too; the caller then takes the detailed path, which accepts them.
    """
    complete = True
    try:
        total = sum(values, 0.0)
    except TypeError:  # a None among them: the missing values are NaN by design
        complete = False
        try:
            total = sum([v for v in values if v is not None], 0.0)
        except OverflowError:
            return None
    except OverflowError:
        return None
    return complete if total - total == 0.0 else None
