"""Per-column sketch state behind ``ProfileBuilder``: what one column accumulates.

:class:`ColumnState` holds exact counts, moments and min/max, a KLL sketch (quantiles,
histogram), a HyperLogLog (distinct count) and a frequent-items sketch (top values).
:func:`update_column` folds one Arrow column into it, :func:`merge_state` adds another
state, :func:`column_stats` reads the ``ColumnProfile`` fields off it. String columns
come back from :func:`update_column` as a :class:`HashJob`: the builder hashes many of
them in one DuckDB query, then :func:`fold_hashes` finishes their update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import datasketches as ds
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.data._hll import HyperLogLog, hash_float64, hash_int64

__all__ = [
    "HISTOGRAM_BINS",
    "KINDS",
    "QUANTILES",
    "TOP_K",
    "ColumnState",
    "HashJob",
    "Number",
    "column_kind",
    "column_stats",
    "fold_hashes",
    "merge_state",
    "top_values",
    "update_column",
]

KINDS = ("numeric", "boolean", "categorical", "temporal", "other")
QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
HISTOGRAM_BINS = 20
TOP_K = 10
Number = int | float
_KLL_K = 200
_FREQ_LG_MAX_K = 10  # 768 tracked items; top-10 estimates stay exact below that
_FEED_CAP = 1024  # per batch, only the most frequent values go to the sketch (Misra-Gries style)
_MAX_VALUE_CHARS = 200  # longer strings are truncated before they enter the top-values sketch
_ID_MIN_DISTINCT = 10_000
_ID_PREFIX_ROWS = 2 * _ID_MIN_DISTINCT
# Below _ID_MIN_DISTINCT a column is still reported as an identifier when (almost) every
# value is distinct: the sketch's top values would then be over-estimates of counts of 1.
_UNIQUE_MIN_VALUES = 50
_UNIQUE_SHARE = 0.95


def column_kind(dtype: pa.DataType) -> str:
    """The profile kind of an Arrow type: one of :data:`KINDS`.

    Args:
        dtype: The column's Arrow type.

    Returns:
        ``"numeric"`` (integers, floats, decimals, durations), ``"boolean"``,
        ``"categorical"`` (strings and dictionary-encoded columns), ``"temporal"``
        (timestamps, dates, times) or ``"other"`` (binary, nested, null).
    """
    types = pa.types
    if types.is_boolean(dtype):
        return "boolean"
    if types.is_integer(dtype) or types.is_floating(dtype) or types.is_decimal(dtype):
        return "numeric"
    if types.is_duration(dtype):
        return "numeric"
    if types.is_timestamp(dtype) or types.is_date(dtype) or types.is_time(dtype):
        return "temporal"
    if types.is_dictionary(dtype) or types.is_string(dtype) or types.is_large_string(dtype):
        return "categorical"
    return "categorical" if types.is_string_view(dtype) else "other"


def _epoch_unit(dtype: pa.DataType) -> str | None:
    if pa.types.is_date32(dtype):
        return "D"
    if pa.types.is_date64(dtype):
        return "ms"
    return str(dtype.unit) if column_kind(dtype) == "temporal" else None


@dataclass(eq=False)
class ColumnState:
    """Mutable sketch state of one column (what ``ProfileBuilder.to_bytes`` keeps)."""

    name: str
    dtype: pa.DataType
    kind: str
    count: int = 0
    null_count: int = 0  # Arrow nulls only; NaN/inf are counted separately
    nan_count: int = 0
    inf_count: int = 0
    n: int = 0  # values that feed the statistics (finite, non-null)
    mean: float = 0.0
    m2: float = 0.0
    min: Number | None = None
    max: Number | None = None
    true_count: int = 0
    identifier_like: bool = False
    kll: Any = None
    freq: Any = None
    hll: HyperLogLog | None = None

    @classmethod
    def fresh(cls, name: str, dtype: pa.DataType) -> ColumnState:
        """An empty state with the sketches that the column's kind needs."""
        state = cls(name=name, dtype=dtype, kind=column_kind(dtype))
        if state.kind in ("numeric", "temporal"):
            state.kll = ds.kll_doubles_sketch(_KLL_K)
        if state.kind == "categorical":
            state.freq = ds.frequent_strings_sketch(_FREQ_LG_MAX_K)
        if state.kind in ("numeric", "temporal", "categorical"):
            state.hll = HyperLogLog()
        return state

    def add_moments(self, n: int, mean: float, m2: float) -> None:
        """Chan et al.'s parallel update: exact, order-independent and stable."""
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    def add_extremes(self, lo: Number, hi: Number) -> None:
        """Widen min/max to cover ``lo`` and ``hi``."""
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)

    def flag_identifier(self) -> None:
        """Stop tracking top values for good: the column looks like an identifier."""
        self.identifier_like = True
        self.freq = None


@dataclass(eq=False)
class HashJob:
    """Strings of one column to hash with DuckDB; ``probe`` means decide identifier-ness."""

    state: ColumnState
    values: pa.Array
    probe: bool = False
    column: pa.Array | None = None


def update_column(state: ColumnState, column: pa.Array) -> HashJob | None:
    """Fold one batch's column into ``state``; strings come back as a job to hash."""
    state.count += len(column)
    state.null_count += column.null_count
    if state.kind in ("numeric", "temporal"):
        _update_numeric(state, column)
    elif state.kind == "categorical":
        return _plan_categorical(state, column)
    elif state.kind == "boolean":
        state.n += len(column) - column.null_count
        state.true_count += int(pc.sum(column).as_py() or 0)
    else:
        state.n += len(column) - column.null_count
    return None


def fold_hashes(job: HashJob, hashes: npt.NDArray[np.uint64]) -> None:
    """Finish a categorical update with the hashes of ``job.values``."""
    state = job.state
    assert state.hll is not None  # categorical columns always have one
    if job.probe and job.column is not None:
        batch_hll = HyperLogLog()
        batch_hll.add_hashes(hashes)
        state.hll.merge(batch_hll)
        if _looks_like_identifier(batch_hll.estimate(), len(hashes)):
            state.flag_identifier()
        else:
            _count_values(state, job.column, len(hashes))
    else:
        state.hll.add_hashes(hashes)
    # Small batches never trip the per-batch rule, so also judge the stream so far.
    if (
        not state.identifier_like
        and state.n > _ID_MIN_DISTINCT
        and _looks_like_identifier(state.hll.estimate(), state.n)
    ):
        state.flag_identifier()


def _looks_like_identifier(distinct: float, values: int) -> bool:
    return distinct > values / 2 and distinct > _ID_MIN_DISTINCT


def _numeric_values(
    state: ColumnState, column: pa.Array
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint64], Number, Number] | None:
    """Finite non-null values as float64, their hashes, and exact min/max (counts NaN/inf)."""
    dtype = column.type
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        if pa.types.is_decimal(dtype):
            column = column.cast(pa.float64())
        x = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        finite = np.isfinite(x)
        if not finite.all():
            nan = int(np.count_nonzero(np.isnan(x))) - column.null_count  # nulls became NaN
            state.nan_count += nan
            state.inf_count += x.size - int(np.count_nonzero(finite)) - nan - column.null_count
            x = x[finite]
        if x.size == 0:
            return None
        return x, hash_float64(x), float(x.min()), float(x.max())
    if pa.types.is_temporal(dtype):
        column = column.view(pa.int32() if dtype.bit_width == 32 else pa.int64())
    ints = (pc.drop_null(column) if column.null_count else column).to_numpy()
    if ints.size == 0:
        return None
    return ints.astype(np.float64), hash_int64(ints), int(ints.min()), int(ints.max())


def _update_numeric(state: ColumnState, column: pa.Array) -> None:
    found = _numeric_values(state, column)
    if found is None:
        return
    values, hashes, lo, hi = found
    # datasketches' binding rejects read-only arrays (zero-copy views of Arrow buffers).
    state.kll.update(values if values.flags.writeable else values.copy())
    assert state.hll is not None  # numeric columns always have one
    state.hll.add_hashes(hashes)
    with np.errstate(all="ignore"):  # huge values overflow to inf; result() reports None
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
    state.add_moments(values.size, mean, m2)
    state.add_extremes(lo, hi)


def _as_large_string(values: pa.Array) -> pa.Array:
    """One representation per column, so its hashes agree whichever path made them."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()  # may reveal nulls stored in the dictionary
    return values if pa.types.is_large_string(values.type) else values.cast(pa.large_string())


def _non_null_strings(column: pa.Array) -> pa.Array:
    return pc.drop_null(_as_large_string(column))


def _plan_categorical(state: ColumnState, column: pa.Array) -> HashJob | None:
    """Count values for top-k unless the column looks like an identifier; say what to hash."""
    non_null = len(column) - column.null_count
    state.n += non_null
    if non_null == 0:
        return None
    if pa.types.is_string_view(column.type):  # few compute kernels accept views yet
        column = column.cast(pa.large_string())
    if state.identifier_like:
        return HashJob(state, _non_null_strings(column))
    if non_null > _ID_PREFIX_ROWS:
        # value_counts over a million unique strings costs ~0.2 s; a prefix tells us cheaply.
        prefix = column.slice(0, _ID_PREFIX_ROWS)
        prefix_values = len(prefix) - prefix.null_count
        if pa.types.is_dictionary(prefix.type):
            prefix = prefix.indices  # count_distinct has no dictionary kernel
        if pc.count_distinct(prefix).as_py() > prefix_values / 2:
            return HashJob(state, _non_null_strings(column), probe=True, column=column)
    return HashJob(state, _count_values(state, column, non_null))


def _count_values(state: ColumnState, column: pa.Array, non_null: int) -> pa.Array:
    """Feed the batch's value counts to the top-k sketch; returns its distinct values."""
    counted = pc.value_counts(column)
    values = _as_large_string(counted.field("values"))
    valid = values.is_valid()
    values, counts = values.filter(valid), counted.field("counts").filter(valid)
    if _looks_like_identifier(len(values), non_null):
        state.flag_identifier()
        return values
    fed_values, fed_counts = values, counts.to_numpy()
    if len(fed_values) > _FEED_CAP:
        keep = np.argpartition(-fed_counts, _FEED_CAP)[:_FEED_CAP]
        fed_values, fed_counts = fed_values.take(pa.array(keep)), fed_counts[keep]
    if pc.max(pc.utf8_length(fed_values)).as_py() > _MAX_VALUE_CHARS:
        fed_values = pc.utf8_slice_codeunits(fed_values, 0, _MAX_VALUE_CHARS)
    for value, count in zip(fed_values.to_pylist(), fed_counts.tolist(), strict=True):
        state.freq.update(value, count)
    return values


def merge_state(mine: ColumnState, theirs: ColumnState) -> None:
    """Add ``theirs`` (same column, hashes flushed) into ``mine``; ``theirs`` is unchanged."""
    mine.count += theirs.count
    mine.null_count += theirs.null_count
    mine.nan_count += theirs.nan_count
    mine.inf_count += theirs.inf_count
    mine.true_count += theirs.true_count
    if mine.kind in ("numeric", "temporal") and theirs.n:
        mine.add_moments(theirs.n, theirs.mean, theirs.m2)
        assert theirs.min is not None  # min and max are set together with n
        assert theirs.max is not None
        mine.add_extremes(theirs.min, theirs.max)
    else:
        mine.n += theirs.n
    if mine.kll is not None:
        mine.kll.merge(theirs.kll)
    if mine.hll is not None and theirs.hll is not None:
        mine.hll.merge(theirs.hll)
    if theirs.identifier_like:
        mine.flag_identifier()
    elif mine.freq is not None:
        mine.freq.merge(theirs.freq)


# --------------------------------------------------------------------------- state → result


def column_stats(state: ColumnState) -> dict[str, Any]:
    """The keyword arguments of the ``ColumnProfile`` that ``state`` describes."""
    nulls = state.null_count + state.nan_count + state.inf_count
    stats: dict[str, Any] = {
        "name": state.name,
        "type": str(state.dtype),
        "kind": state.kind,
        "count": state.count,
        "null_count": nulls,
        "null_fraction": nulls / state.count if state.count else None,
        "nan_count": state.nan_count,
        "inf_count": state.inf_count,
        "identifier_like": state.identifier_like,
        "unit": _epoch_unit(state.dtype),
    }
    n = state.n
    if state.hll is not None:
        stats["distinct"] = min(max(round(state.hll.estimate()), 1), n) if n else 0
    if state.kind in ("numeric", "temporal") and n:
        stats.update(_numeric_stats(state))
    elif state.kind == "categorical":
        if n >= _UNIQUE_MIN_VALUES and stats["distinct"] >= _UNIQUE_SHARE * n:
            stats["identifier_like"] = True
        elif state.freq is not None:
            stats["top_values"] = top_values(state.freq)
    elif state.kind == "boolean" and n:
        trues, falses = state.true_count, n - state.true_count
        stats["distinct"] = int(trues > 0) + int(falses > 0)
        stats["mean"] = trues / n
        stats["std"] = math.sqrt(trues * falses / n / (n - 1)) if n > 1 else None
        pairs = sorted([("true", trues), ("false", falses)], key=lambda p: (-p[1], p[0]))
        stats["top_values"] = [p for p in pairs if p[1] > 0]
    return stats


def _numeric_stats(state: ColumnState) -> dict[str, Any]:
    n, lo, hi = state.n, state.min, state.max
    assert lo is not None  # min and max are set together with n
    assert hi is not None
    ranks = list(QUANTILES.values())
    return {
        "min": lo,
        "max": hi,
        "mean": _finite(state.mean),
        "std": _finite(math.sqrt(state.m2 / (n - 1))) if n > 1 else None,
        "quantiles": dict(zip(QUANTILES, state.kll.get_quantiles(ranks), strict=True)),
        "histogram": _histogram(state.kll, float(lo), float(hi), n),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _histogram(kll: Any, lo: float, hi: float, n: int) -> dict[str, list[Number]]:
    """Equal-width bins between min and max; counts from the KLL sketch's PMF."""
    position = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    with np.errstate(all="ignore"):
        edges = lo * (1.0 - position) + hi * position  # no overflow, unlike hi - lo
    edges[0], edges[-1] = lo, hi
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        return {"edges": [lo, hi], "counts": [n]}  # one value, or a range too narrow to split
    expected = np.asarray(kll.get_pmf(edges[1:-1].tolist()), dtype=np.float64) * n
    counts = np.floor(expected).astype(np.int64)
    short = n - int(counts.sum())  # largest remainders get the rounding leftovers
    if short > 0:
        counts[np.argsort(counts - expected, kind="stable")[:short]] += 1
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def top_values(freq: Any) -> list[tuple[str, int]]:
    """The :data:`TOP_K` most frequent values of a frequent-strings sketch, ties by value."""
    items = freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    ranked = sorted(((str(i[0]), int(i[1])) for i in items), key=lambda p: (-p[1], p[0]))
    return ranked[:TOP_K]
