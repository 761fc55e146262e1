"""Per-column dataset profiles, built in one streaming pass and mergeable across appends.

:class:`ProfileBuilder` folds Arrow record batches into small per-column sketches
(exact counts, min/max and moments; a KLL sketch for quantiles and histograms; a
HyperLogLog for distinct counts; a frequent-items sketch for top values).
:meth:`ProfileBuilder.result` turns them into a frozen, JSON-able :class:`Profile`;
:meth:`ProfileBuilder.to_bytes` keeps the sketches themselves so a later append can
merge into them. :func:`compare_profiles` is what ``data diff`` shows.

Conventions (so readers of a profile know what the numbers mean):

* ``null_count`` counts Arrow nulls plus float NaN and +/-inf: non-finite floats are
  "null for statistics" and are left out of min/max/mean/std/quantiles/histogram;
  ``nan_count`` and ``inf_count`` say how many of the nulls were which.
* ``std`` is the sample standard deviation (``ddof=1``, as pandas), ``None`` below 2 values.
* Temporal columns (timestamp, date, time) are profiled on their integer epoch value in
  the type's ``unit``; :meth:`ColumnProfile.format_value` renders ISO 8601 text and
  ``to_dict`` adds a ``display`` block with it. Decimal and duration columns are numeric.
* A string/dictionary column is ``identifier_like`` when its distinct count exceeds half
  its non-null values and 10,000, or when it has at least 50 non-null values and its
  distinct count is at least 95% of them. Its ``top_values`` are then empty: they would
  all be (about) 1 and tell nothing.

The sketch machinery lives in private modules: ``_profile_state`` (one column's state),
``_profile_builder`` (batches, merges, bytes) and ``_hll`` (distinct counts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from modelyard.data._profile_builder import SketchBuilder
from modelyard.data._profile_state import (
    HISTOGRAM_BINS,
    KINDS,
    QUANTILES,
    TOP_K,
    Number,
    column_kind,
)
from modelyard.exceptions import ValidationError

__all__ = [
    "HISTOGRAM_BINS",
    "KINDS",
    "QUANTILES",
    "TOP_K",
    "ColumnChange",
    "ColumnProfile",
    "MetricChange",
    "Profile",
    "ProfileBuilder",
    "column_kind",
    "compare_profiles",
]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ColumnProfile:
    """The profile of one column; statistics that do not apply to its kind are ``None``.

    ``min``/``max``/``mean``/``quantiles``/``histogram`` cover finite non-null values;
    ``histogram`` has equal-width bins between ``min`` and ``max`` and its counts sum to
    ``count - null_count``. ``distinct`` is approximate (HyperLogLog, ~1%).
    """

    name: str
    type: str
    kind: str
    count: int
    null_count: int
    null_fraction: float | None
    nan_count: int = 0
    inf_count: int = 0
    distinct: int | None = None
    min: Number | None = None
    max: Number | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None
    histogram: dict[str, list[Number]] | None = None
    top_values: list[tuple[str, int]] = field(default_factory=list)
    identifier_like: bool = False
    unit: str | None = None

    def format_value(self, value: Number | None) -> Number | str | None:
        """Render one statistic of this column for people: ISO 8601 text for temporal columns.

        Args:
            value: A value of this column's ``min``/``max``/``mean``/quantiles.

        Returns:
            The ISO string (``Z`` suffix for time-zone-aware timestamps, which are
            stored in UTC) for temporal columns, else ``value`` unchanged.
        """
        if value is None or self.kind != "temporal" or self.unit is None:
            return value
        text = str(np.int64(round(value)).astype(f"datetime64[{self.unit}]"))
        if self.type.startswith(("time32", "time64")):
            return text.split("T", 1)[1]
        return text + "Z" if "tz=" in self.type else text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (no NaN/inf); temporal columns get an extra ``display`` block."""
        data: dict[str, Any] = {f.name: _json_safe(getattr(self, f.name)) for f in fields(self)}
        data["top_values"] = [[value, count] for value, count in self.top_values]
        if self.kind == "temporal" and self.min is not None:
            quantiles = self.quantiles or {}
            data["display"] = {
                "min": self.format_value(self.min),
                "max": self.format_value(self.max),
                "mean": self.format_value(self.mean),
                "quantiles": {k: self.format_value(v) for k, v in quantiles.items()},
            }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        """Rebuild a column profile from :meth:`to_dict` output.

        Raises:
            ValidationError: A field is missing or has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a column profile must be a mapping, got {type(data).__name__}")
        values = {name: _check_field(data, name, kinds) for name, kinds in _FIELD_TYPES.items()}
        if values["kind"] not in KINDS:
            raise ValidationError(
                f"unknown column kind {values['kind']!r} in profile of column "
                f"{values['name']!r}; valid kinds: {', '.join(KINDS)}"
            )
        values["quantiles"] = _check_quantiles(values["quantiles"])
        values["histogram"] = _check_histogram(values["histogram"])
        values["top_values"] = _check_top_values(values["top_values"])
        return cls(**values)


@dataclass(frozen=True)
class Profile:
    """The profile of a whole dataset: its row count and one :class:`ColumnProfile` per column."""

    num_rows: int
    columns: dict[str, ColumnProfile]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping; ``json.dumps(..., allow_nan=False)`` accepts it."""
        return {"num_rows": self.num_rows, "columns": [c.to_dict() for c in self.columns.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Rebuild a profile from :meth:`to_dict` output.

        Raises:
            ValidationError: The mapping is not a profile (missing keys, wrong types,
                duplicate column names).
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
            raise ValidationError(
                "a profile must be a mapping with 'num_rows' and a 'columns' list; "
                "pass the output of Profile.to_dict()"
            )
        num_rows = _check_field(data, "num_rows", (int,))
        columns: dict[str, ColumnProfile] = {}
        for item in data["columns"]:
            column = ColumnProfile.from_dict(item)
            if column.name in columns:
                raise ValidationError(f"duplicate column {column.name!r} in profile")
            columns[column.name] = column
        return cls(num_rows=num_rows, columns=columns)


_NUM = (int, float, type(None))
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "type": (str,),
    "kind": (str,),
    "count": (int,),
    "null_count": (int,),
    "null_fraction": _NUM,
    "nan_count": (int,),
    "inf_count": (int,),
    "distinct": (int, type(None)),
    "min": _NUM,
    "max": _NUM,
    "mean": _NUM,
    "std": _NUM,
    "quantiles": (dict, type(None)),
    "histogram": (dict, type(None)),
    "top_values": (list,),
    "identifier_like": (bool,),
    "unit": (str, type(None)),
}


def _check_field(data: Mapping[str, Any], name: str, kinds: tuple[type, ...]) -> Any:
    if name not in data:
        raise ValidationError(f"profile field {name!r} is missing; pass Profile.to_dict() output")
    value = data[name]
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        valid = " or ".join(k.__name__ for k in kinds)
        raise ValidationError(
            f"profile field {name!r} is {type(value).__name__} {str(value)[:40]!r}; expected {valid}"
        )
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_quantiles(value: dict[str, Any] | None) -> dict[str, float] | None:
    if value is not None and not all(_is_number(v) for v in value.values()):
        raise ValidationError("profile field 'quantiles' must map names to numbers")
    return value


def _check_histogram(value: dict[str, Any] | None) -> dict[str, list[Number]] | None:
    if value is None:
        return None
    edges, counts = value.get("edges"), value.get("counts")
    if not (isinstance(edges, list) and isinstance(counts, list)) or len(edges) != len(counts) + 1:
        raise ValidationError(
            "profile field 'histogram' needs 'edges' (n+1) and 'counts' (n) lists"
        )
    if not all(_is_number(e) for e in edges) or not all(_is_number(c) for c in counts):
        raise ValidationError("profile field 'histogram' must hold numbers only")
    return {"edges": list(edges), "counts": list(counts)}


def _check_top_values(value: list[Any]) -> list[tuple[str, int]]:
    pairs: list[tuple[str, int]] = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ValidationError(f"top value {str(item)[:60]!r} is not a [value, count] pair")
        if not isinstance(item[1], int) or isinstance(item[1], bool):
            raise ValidationError(f"top value count {item[1]!r} is not an integer")
        pairs.append((item[0], item[1]))
    return pairs


def _json_safe(value: Any) -> Any:
    """Deep-copy ``value`` for JSON, turning NaN/inf into ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class MetricChange:
    """One statistic of one column in two profiles; ``delta`` is ``new - old`` when both exist."""

    metric: str
    old: Number | None
    new: Number | None
    delta: float | None


@dataclass(frozen=True)
class ColumnChange:
    """How one column differs between two profiles.

    ``change`` is ``"added"``, ``"removed"``, ``"type_changed"`` or ``"compared"``
    (present in both with the same type); ``metrics`` always lists null_fraction, mean,
    std, distinct, min and max in that order.
    """

    column: str
    change: str
    old_type: str | None
    new_type: str | None
    metrics: tuple[MetricChange, ...]

    @property
    def changed(self) -> bool:
        """Whether anything differs: presence, type, or any statistic."""
        return self.change != "compared" or any(m.old != m.new for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (no NaN/inf)."""
        data: dict[str, Any] = _json_safe(
            {
                "column": self.column,
                "change": self.change,
                "old_type": self.old_type,
                "new_type": self.new_type,
                "metrics": {
                    m.metric: {"old": m.old, "new": m.new, "delta": m.delta} for m in self.metrics
                },
            }
        )
        return data


_DIFF_METRICS = ("null_fraction", "mean", "std", "distinct", "min", "max")


def compare_profiles(old: Profile, new: Profile) -> list[ColumnChange]:
    """Column-by-column differences between two profiles (what ``data diff`` prints).

    Args:
        old: The reference profile (e.g. the previous dataset version).
        new: The profile to compare with it.

    Returns:
        One :class:`ColumnChange` per column of either profile: ``old``'s columns in
        order, then the columns only ``new`` has.
    """
    names = list(old.columns) + [n for n in new.columns if n not in old.columns]
    changes = []
    for name in names:
        before, after = old.columns.get(name), new.columns.get(name)
        if before is None:
            change = "added"
        elif after is None:
            change = "removed"
        else:
            change = "compared" if before.type == after.type else "type_changed"
        metrics = tuple(_metric_change(m, before, after) for m in _DIFF_METRICS)
        changes.append(
            ColumnChange(
                column=name,
                change=change,
                old_type=before.type if before else None,
                new_type=after.type if after else None,
                metrics=metrics,
            )
        )
    return changes


def _metric_change(
    metric: str, old: ColumnProfile | None, new: ColumnProfile | None
) -> MetricChange:
    before = getattr(old, metric) if old is not None else None
    after = getattr(new, metric) if new is not None else None
    delta = None
    if _is_number(before) and _is_number(after) and before is not None and after is not None:
        delta = float(after - before)
    return MetricChange(metric=metric, old=before, new=after, delta=delta)


# --------------------------------------------------------------------------- builder


class ProfileBuilder(SketchBuilder):
    """Accumulates a :class:`Profile` over record batches in one pass; mergeable.

    :meth:`update` folds in batches, :meth:`merge` adds another builder,
    :meth:`to_bytes`/:meth:`from_bytes` keep the sketches between runs (see
    ``_profile_builder.SketchBuilder`` for those). Not thread-safe: one builder per
    stream. It holds one DuckDB connection (created on first use, used to hash
    strings); :meth:`to_bytes` does not need it.

    Args:
        schema: The schema every batch will have (metadata is ignored).

    Raises:
        ValidationError: The schema has duplicate column names.

    Example:
        >>> builder = ProfileBuilder(table.schema)  # doctest: +SKIP
        >>> for batch in table.to_batches():  # doctest: +SKIP
        ...     builder.update(batch)
        >>> builder.result().columns["age"].mean  # doctest: +SKIP
    """

    def result(self) -> Profile:
        """The profile of everything seen so far (the builder stays usable)."""
        columns = [ColumnProfile(**stats) for stats in self._column_stats()]
        return Profile(num_rows=self.num_rows, columns={c.name: c for c in columns})
