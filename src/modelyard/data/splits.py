"""Deterministic dataset splits: which part (train, valid, test, ...) every row belongs to.

Three kinds, all deterministic across runs, processes and machines (a seeded
``numpy.random.default_rng`` and no hash-ordered containers):

- ``random``: a seeded permutation; the part sizes are the largest-remainder
  apportionment of the rows, so they sum to the row count exactly.
- ``stratified``: the same part sizes, with every class of ``by`` (nulls are a class of
  their own) spread over the parts in proportion: each class's count in each part is
  almost always within one row of its exact share (at worst about two, with many parts),
  while the part sizes stay exactly those of ``random`` even with many tiny classes. A class with fewer rows than parts is
  allowed; it simply cannot reach every part.
- ``time``: rows in order of ``time_column`` (earliest first) fill the parts in order.
  Rows with equal times always land in the same part: a boundary that would cut a group
  of equal times moves to whichever edge of the group keeps the sizes closer to the
  fractions (the later part on an exact tie). Nulls (and NaN) in the time column are an
  error rather than being put silently in some part: fill or drop them first.

``assign_split`` needs only the columns in ``SplitSpec.required_columns``, so a caller
reads just those (or none, for ``random``) from a large dataset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.exceptions import ValidationError

__all__ = [
    "DEFAULT_FRACTIONS",
    "SPLIT_KINDS",
    "SplitSpec",
    "assign_split",
    "parse_split_spec",
    "split_counts",
]

SPLIT_KINDS = ("random", "stratified", "time")
DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.7, "valid": 0.15, "test": 0.15}
MAX_PARTS = 127  # assignments are int8
_SPEC_KEYS = ("kind", "fractions", "seed", "by", "time_column")
_TEXT_OPTIONS = {"seed": "seed", "by": "by", "column": "time_column", "time_column": "time_column"}


@dataclass(frozen=True)
class SplitSpec:
    """What to split and how; validated on construction.

    Args:
        kind: ``"random"``, ``"stratified"`` or ``"time"``.
        fractions: Part name -> share of the rows, in order (``{"train": 0.8,
            "test": 0.2}``); names are identifiers, shares positive and summing to 1.
        seed: Seed of the permutation (``random`` and ``stratified``).
        by: The column to stratify on; required for ``stratified``, else None.
        time_column: The column to order by; required for ``time``, else None.

    Raises:
        ValidationError: Any field is malformed; the message says what is valid.
    """

    kind: str
    fractions: Mapping[str, float] = field(hash=False)
    seed: int = 0
    by: str | None = None
    time_column: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise ValidationError(
                f"unknown split kind {self.kind!r}; valid kinds: {', '.join(SPLIT_KINDS)}"
            )
        object.__setattr__(self, "fractions", _check_fractions(self.fractions))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValidationError(f"split seed must be a non-negative integer, got {self.seed!r}")
        for name, needed_by in (("by", "stratified"), ("time_column", "time")):
            value = getattr(self, name)
            if self.kind == needed_by and (not isinstance(value, str) or not value):
                raise ValidationError(
                    f"a {needed_by} split needs {name}= (the column name), got {value!r}"
                )
            if self.kind != needed_by and value is not None:
                raise ValidationError(
                    f"{name}={value!r} only applies to {needed_by} splits, not {self.kind!r}; "
                    "remove it or change the kind"
                )

    @property
    def part_names(self) -> tuple[str, ...]:
        """The part names in order; an assignment value indexes this tuple."""
        return tuple(self.fractions)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The columns ``assign_split`` reads (none for ``random``)."""
        return tuple(c for c in (self.by, self.time_column) if c is not None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping that ``from_dict`` turns back into an equal spec."""
        return {
            "kind": self.kind,
            "fractions": dict(self.fractions),
            "seed": self.seed,
            "by": self.by,
            "time_column": self.time_column,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitSpec:
        """Build a spec from ``to_dict`` output (or YAML/JSON of that shape).

        Raises:
            ValidationError: Not a mapping, unknown or missing keys, or bad values.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a split spec must be a mapping, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in _SPEC_KEYS)
        if unknown:
            raise ValidationError(
                f"unknown split spec key(s) {', '.join(unknown)}; valid keys: "
                f"{', '.join(_SPEC_KEYS)}"
            )
        if "kind" not in data or "fractions" not in data:
            raise ValidationError("a split spec needs 'kind' and 'fractions'")
        return cls(
            kind=data["kind"],
            fractions=data["fractions"],
            seed=data.get("seed", 0),
            by=data.get("by"),
            time_column=data.get("time_column"),
        )


def _check_fractions(fractions: object) -> dict[str, float]:
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValidationError(
            f"split fractions must be a non-empty mapping of part name -> share "
            f"(e.g. {dict(DEFAULT_FRACTIONS)}), got {fractions!r}"
        )
    if len(fractions) > MAX_PARTS:
        raise ValidationError(f"a split has at most {MAX_PARTS} parts, got {len(fractions)}")
    checked: dict[str, float] = {}
    for name, share in fractions.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError(
                f"split part name {name!r} is not an identifier; use letters, digits and _ "
                "(e.g. train, valid, test)"
            )
        if (
            not isinstance(share, int | float)
            or isinstance(share, bool)
            or not math.isfinite(share)
            or share <= 0
        ):
            raise ValidationError(f"split fraction {name}={share!r} must be a number > 0")
        checked[name] = float(share)
    total = math.fsum(checked.values())
    if abs(total - 1.0) > 1e-9:
        raise ValidationError(
            f"split fractions must sum to 1, got {total!r} for {checked}; adjust them"
        )
    return checked


def parse_split_spec(value: str | Mapping[str, Any]) -> SplitSpec:
    """Parse a split spec from CLI text or a mapping (YAML, JSON, ``to_dict``).

    Text is ``kind[:option,option...]`` with options ``name=share`` (the parts, in order;
    default train/valid/test = 0.7/0.15/0.15), ``seed=N``, ``by=column`` and
    ``column=name`` (or ``time_column=name``)::

        random:train=0.8,test=0.2,seed=7
        stratified:by=churned
        time:column=signup_at,train=0.7,valid=0.15,test=0.15

    Raises:
        ValidationError: The text or mapping is malformed; the message says why.
    """
    if not isinstance(value, str):
        return SplitSpec.from_dict(value)
    kind, _, rest = value.strip().partition(":")
    spec: dict[str, Any] = {"kind": kind.strip(), "fractions": {}}
    for item in (part.strip() for part in rest.split(",") if rest.strip()):
        key, eq, raw = (s.strip() for s in item.partition("="))
        if not eq or not key or not raw:
            raise ValidationError(
                f"invalid split option {item!r} in {value!r}; expected name=value, e.g. "
                "random:train=0.8,test=0.2,seed=7"
            )
        if key in _TEXT_OPTIONS:
            spec[_TEXT_OPTIONS[key]] = _parse_int(raw, value) if key == "seed" else raw
        else:
            spec["fractions"][key] = _parse_share(key, raw, value)
    spec["fractions"] = spec["fractions"] or dict(DEFAULT_FRACTIONS)
    return SplitSpec.from_dict(spec)


def _parse_int(raw: str, text: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"split seed {raw!r} in {text!r} is not an integer") from None


def _parse_share(name: str, raw: str, text: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(
            f"split fraction {name}={raw!r} in {text!r} is not a number"
        ) from None


def assign_split(spec: SplitSpec, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Assign every row of ``table`` to a part of ``spec``.

    Args:
        spec: The split.
        table: The rows; only ``spec.required_columns`` are read, so a table with just
            those columns (or any single column, for ``random``) is enough.

    Returns:
        An ``int8`` array with one entry per row: the index into ``spec.part_names``.
        An empty table gives an empty array.

    Raises:
        ValidationError: A required column is missing or of an unusable type, a part
            would get no rows, or the time column holds nulls.
    """
    columns = [_column(table, name) for name in spec.required_columns]
    ranks = _time_ranks(spec.required_columns[0], columns[0]) if spec.kind == "time" else None
    n = table.num_rows
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    sizes = _part_sizes(spec, n)
    if ranks is not None:
        return _time_assignment(spec, ranks, sizes)
    order = np.random.default_rng(spec.seed).permutation(n)
    labels = np.repeat(np.arange(len(sizes), dtype=np.int8), sizes)
    if spec.kind == "stratified":
        # Classes as contiguous blocks (shuffled within), then evenly spread labels.
        classes = _class_codes(columns[0])
        order = order[np.argsort(classes[order], kind="stable")]
        labels = _spread(sizes)
    assignment = np.empty(n, dtype=np.int8)
    assignment[order] = labels
    return assignment


def split_counts(spec: SplitSpec, assignment: np.ndarray) -> dict[str, int]:
    """Rows per part, in part order (every part present, zero included).

    Raises:
        ValidationError: ``assignment`` is not a 1-D integer array of part indices.
    """
    values = np.asarray(assignment)
    k = len(spec.fractions)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValidationError(
            f"a split assignment must be a 1-D integer array, got {values.dtype} {values.shape}"
        )
    if values.size and (values.min() < 0 or values.max() >= k):
        raise ValidationError(
            f"split assignment holds part indices outside 0..{k - 1} "
            f"({', '.join(spec.part_names)}); it does not belong to this spec"
        )
    counts = np.bincount(values.astype(np.int64), minlength=k)
    return {name: int(count) for name, count in zip(spec.part_names, counts, strict=True)}


def _column(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    if name not in table.schema.names:
        available = ", ".join(table.schema.names) or "(none)"
        raise ValidationError(
            f"split column {name!r} is not in the table; available columns: {available}",
            column=name,
        )
    column = table.column(name)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _part_sizes(spec: SplitSpec, n: int) -> np.ndarray:
    # Largest remainder: floor every quota, then hand the leftover rows to the largest
    # fractional parts (earlier parts first on equal remainders).
    shares = np.asarray(list(spec.fractions.values()))
    quotas = shares / shares.sum() * n
    sizes: np.ndarray = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - sizes), kind="stable")
    leftover = n - int(sizes.sum())
    sizes[order[:leftover]] += 1
    empty = [name for name, size in zip(spec.part_names, sizes, strict=True) if size == 0]
    if empty:
        raise ValidationError(
            f"split part {empty[0]!r} would get 0 of {n} rows with fractions "
            f"{dict(spec.fractions)}; use fewer parts or larger fractions",
            part=empty[0],
            rows=n,
        )
    return sizes


def _spread(sizes: np.ndarray) -> np.ndarray:
    """Part labels for n positions, each part's positions spaced evenly over the whole.

    Part j's t-th row sits at (t + 1/2) / size_j; merging those gives a sequence in which
    any window of consecutive positions holds each part in proportion (almost always
    within one row, at worst about two), so each class (a contiguous block of positions)
    gets its share of every part while the totals stay exact.
    """
    times = np.concatenate([(np.arange(size) + 0.5) / size for size in sizes])
    labels = np.repeat(np.arange(len(sizes), dtype=np.int8), sizes)
    spread: np.ndarray = labels[np.argsort(times, kind="stable")]
    return spread


def _class_codes(array: pa.Array) -> np.ndarray:
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    codes: np.ndarray = encoded.indices.to_numpy(zero_copy_only=False)
    return codes


def _time_ranks(name: str, array: pa.Array) -> np.ndarray:
    type_ = array.type
    orderable = (
        pa.types.is_temporal(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_decimal(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
    )
    if not orderable or pa.types.is_duration(type_):
        raise ValidationError(
            f"time split column {name!r} has type {type_}; use a timestamp, date, number "
            "or ISO 8601 string column",
            column=name,
        )
    missing = array.null_count
    if pa.types.is_floating(type_):
        missing += pc.sum(pc.is_nan(array)).as_py() or 0
    if missing:
        raise ValidationError(
            f"time split column {name!r} has {missing} null or NaN value(s); fill or drop "
            "those rows first (they have no place in a time order)",
            column=name,
            rows=missing,
        )
    ranks: np.ndarray = pc.rank(array, tiebreaker="dense").to_numpy().astype(np.int64) - 1
    return ranks


def _time_assignment(spec: SplitSpec, ranks: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    ends = np.cumsum(np.bincount(ranks))  # rows with rank <= r
    thresholds = []
    for cut in np.cumsum(sizes)[:-1]:
        group = int(np.searchsorted(ends, cut, side="right"))  # the group holding row `cut`
        start = int(ends[group - 1]) if group else 0
        # Keep the group of equal times whole, on the side that is closer to the target.
        thresholds.append(group if cut - start <= int(ends[group]) - cut else group + 1)
    assignment = np.searchsorted(np.asarray(thresholds), ranks, side="right").astype(np.int8)
    counts = np.bincount(assignment, minlength=len(sizes))
    if (counts == 0).any():
        empty = spec.part_names[int(np.flatnonzero(counts == 0)[0])]
        raise ValidationError(
            f"time split part {empty!r} would get 0 of {len(ranks)} rows: too many rows "
            f"share the same {spec.time_column!r} value at a boundary; use fewer parts, "
            "other fractions or a finer time column",
            part=empty,
            rows=len(ranks),
        )
    return assignment
