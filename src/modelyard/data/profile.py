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
* A string/dictionary column whose distinct count exceeds half its non-null values and
  10,000 is ``identifier_like``: its top values are not tracked (they would all be 1).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import datasketches as ds
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.data._hll import HyperLogLog, hash_float64, hash_int64
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
_KLL_K = 200
_FREQ_LG_MAX_K = 10  # 768 tracked items; top-10 estimates stay exact below that
_FEED_CAP = 1024  # per batch, only the most frequent values go to the sketch (Misra-Gries style)
_MAX_VALUE_CHARS = 200  # longer strings are truncated before they enter the top-values sketch
_ID_MIN_DISTINCT = 10_000
_ID_PREFIX_ROWS = 2 * _ID_MIN_DISTINCT
_HASH_BATCH_VALUES = 1 << 18  # strings wait for one DuckDB query (~1-3 ms fixed cost each)
_HASH_PROBE = "modelyard-hll-probe"
_MAGIC = b"MYPROF1\n"
_DIGEST = 32
Number = int | float
# What malformed state raises from json, struct, zlib, Arrow IPC and datasketches.
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RuntimeError,
    OSError,
    EOFError,
    struct.error,
    zlib.error,
    pa.ArrowException,
)


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
class _ColumnState:
    """Mutable sketch state of one column (what ``to_bytes`` keeps)."""

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
    def fresh(cls, name: str, dtype: pa.DataType) -> _ColumnState:
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
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)

    def flag_identifier(self) -> None:
        self.identifier_like = True
        self.freq = None


@dataclass(eq=False)
class _HashJob:
    """Strings of one column to hash with DuckDB; ``probe`` means decide identifier-ness."""

    state: _ColumnState
    values: pa.Array
    probe: bool = False
    column: pa.Array | None = None


class ProfileBuilder:
    """Accumulates a :class:`Profile` over record batches in one pass; mergeable.

    Not thread-safe: one builder per stream. It holds one DuckDB connection (created on
    first use, used to hash strings); :meth:`to_bytes` does not need it.

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

    def __init__(self, schema: pa.Schema) -> None:
        names = schema.names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(
                f"duplicate column names {duplicates} in schema; rename them before profiling"
            )
        self._schema = schema.remove_metadata()
        self._columns = [_ColumnState.fresh(f.name, f.type) for f in self._schema]
        self._num_rows = 0
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._hash_probe: int | None = None
        self._pending: list[_HashJob] = []
        self._pending_values = 0

    @property
    def schema(self) -> pa.Schema:
        """The schema batches must have."""
        return self._schema

    @property
    def num_rows(self) -> int:
        """Rows seen so far (including merged builders)."""
        return self._num_rows

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Fold one record batch (or every batch of a table) into the profile.

        Args:
            batch: Data with exactly this builder's column names and types.

        Raises:
            ValidationError: ``batch`` is not Arrow data or its schema differs.
        """
        if isinstance(batch, pa.Table):
            for part in batch.to_batches():
                self.update(part)
            return
        if not isinstance(batch, pa.RecordBatch):
            raise ValidationError(
                f"update() takes a pyarrow RecordBatch or Table, got {type(batch).__name__}"
            )
        self._check_schema(batch.schema, "the batch")
        self._num_rows += batch.num_rows
        probing = False
        for state, column in zip(self._columns, batch.columns, strict=True):
            state.count += len(column)
            state.null_count += column.null_count
            if state.kind in ("numeric", "temporal"):
                _update_numeric(state, column)
            elif state.kind == "categorical":
                job = _plan_categorical(state, column)
                if job is not None:
                    self._pending.append(job)
                    self._pending_values += len(job.values)
                    probing = probing or job.probe
            elif state.kind == "boolean":
                state.n += len(column) - column.null_count
                state.true_count += int(pc.sum(column).as_py() or 0)
            else:
                state.n += len(column) - column.null_count
        if probing or self._pending_values >= _HASH_BATCH_VALUES:
            self._flush_hashes()

    def merge(self, other: ProfileBuilder) -> None:
        """Add ``other``'s data to this profile (e.g. an append to a dataset).

        Args:
            other: A builder over the same column names and types; it is not changed.

        Raises:
            ValidationError: The schemas differ, or the two builders hashed strings
                with different DuckDB hash functions (re-profile all the data).
        """
        if not isinstance(other, ProfileBuilder):
            raise ValidationError(f"merge() takes a ProfileBuilder, got {type(other).__name__}")
        if other is self:  # sketches cannot merge into themselves; double a copy instead
            other = ProfileBuilder.from_bytes(self.to_bytes())
        self._check_schema(other._schema, "the other profile")
        self._adopt_hash_probe(other._hash_probe)
        self._flush_hashes()
        other._flush_hashes()  # changes how other holds its data, not what it holds
        self._num_rows += other._num_rows
        for mine, theirs in zip(self._columns, other._columns, strict=True):
            _merge_state(mine, theirs)

    def result(self) -> Profile:
        """The profile of everything seen so far (the builder stays usable)."""
        self._flush_hashes()
        columns = {s.name: _column_profile(s) for s in self._columns}
        return Profile(num_rows=self._num_rows, columns=columns)

    def to_bytes(self) -> bytes:
        """The sketch state, for :meth:`from_bytes` and later merges (no pickle).

        Layout: magic, SHA-256 of the body, then the body: a length-prefixed JSON
        header, the Arrow IPC schema and the sketch blobs (datasketches' own
        serialisation, zlib-compressed HyperLogLog registers) the header points at.
        """
        self._flush_hashes()
        blobs: list[bytes] = [self._schema.serialize().to_pybytes()]
        header = {
            "format": 1,
            "num_rows": self._num_rows,
            "hash_probe": self._hash_probe,
            "columns": [_state_to_json(s, blobs) for s in self._columns],
            "blob_sizes": [len(b) for b in blobs],
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        body = struct.pack(">I", len(head)) + head + b"".join(blobs)
        return _MAGIC + hashlib.sha256(body).digest() + body

    @classmethod
    def from_bytes(cls, data: bytes) -> ProfileBuilder:
        """Rebuild a builder from :meth:`to_bytes` output.

        Raises:
            ValidationError: ``data`` is not profile state, is truncated or corrupt.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError(f"from_bytes() takes bytes, got {type(data).__name__}")
        data = bytes(data)
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _DIGEST + 4:
            raise ValidationError(
                "not modelyard profile state (bad magic or too short); "
                "pass the output of ProfileBuilder.to_bytes()"
            )
        digest, body = data[len(_MAGIC) : len(_MAGIC) + _DIGEST], data[len(_MAGIC) + _DIGEST :]
        if hashlib.sha256(body).digest() != digest:
            raise ValidationError(
                "profile state failed its checksum (truncated or corrupted); re-profile the data"
            )
        try:
            return cls._decode(body)
        except ValidationError:
            raise
        except _DECODE_ERRORS as exc:
            raise ValidationError(
                f"profile state is malformed ({exc}); re-profile the data"
            ) from exc

    @classmethod
    def _decode(cls, body: bytes) -> ProfileBuilder:
        (head_len,) = struct.unpack(">I", body[:4])
        header = json.loads(body[4 : 4 + head_len])
        if not isinstance(header, dict) or header.get("format") != 1:
            raise ValidationError("unsupported profile state format; re-profile the data")
        blobs, offset = [], 4 + head_len
        for size in header["blob_sizes"]:
            if not isinstance(size, int) or size < 0 or offset + size > len(body):
                raise ValidationError("profile state blob sizes do not fit the data")
            blobs.append(body[offset : offset + size])
            offset += size
        builder = cls(pa.ipc.read_schema(pa.py_buffer(blobs[0])))
        if len(header["columns"]) != len(builder._columns):
            raise ValidationError("profile state has a different number of columns than its schema")
        for state, saved in zip(builder._columns, header["columns"], strict=True):
            _state_from_json(state, saved, blobs)
        num_rows = header["num_rows"]
        if not isinstance(num_rows, int) or isinstance(num_rows, bool) or num_rows < 0:
            raise ValidationError(f"profile state row count {num_rows!r} is not a count")
        builder._num_rows = num_rows
        probe = header["hash_probe"]
        builder._hash_probe = None if probe is None else int(probe)
        return builder

    def _check_schema(self, schema: pa.Schema, what: str) -> None:
        if schema.names == self._schema.names and all(
            a.type == b.type for a, b in zip(schema, self._schema, strict=True)
        ):
            return
        expected = ", ".join(f"{f.name}: {f.type}" for f in self._schema)
        got = ", ".join(f"{f.name}: {f.type}" for f in schema)
        raise ValidationError(
            f"{what} has columns ({got[:300]}) but this profile has ({expected[:300]}); "
            "profile data with one schema per builder (cast or select columns first)"
        )

    def _adopt_hash_probe(self, probe: int | None) -> None:
        if probe is None:
            return
        if self._hash_probe is not None and self._hash_probe != probe:
            raise ValidationError(
                "distinct-count sketches were built with a different string hash (another "
                "DuckDB version?) and cannot be merged; re-profile all the data with one "
                "version of modelyard"
            )
        self._hash_probe = probe

    def _hash_strings(self, arrays: Sequence[pa.Array]) -> list[npt.NDArray[np.uint64]]:
        """DuckDB's 64-bit hash of every value, in one query for all arrays."""
        if self._connection is None:
            self._connection = duckdb.connect(":memory:")
            rows = self._connection.execute("SELECT hash(?)", [_HASH_PROBE]).fetchall()
            self._adopt_hash_probe(int(rows[0][0]))
        # DuckDB keeps insertion order (preserve_insertion_order), so hashes split back by length.
        values = pa.chunked_array(arrays, type=pa.large_string())
        relation = self._connection.from_arrow(pa.table({"v": values}))
        hashes = np.asarray(relation.project("hash(v) AS h").fetchnumpy()["h"], dtype=np.uint64)
        return np.split(hashes, np.cumsum([len(a) for a in arrays])[:-1])

    def _flush_hashes(self) -> None:
        """Hash the strings waiting since the last flush into their columns' sketches."""
        jobs = self._pending
        if not jobs:
            return
        hashed = self._hash_strings([j.values for j in jobs])
        self._pending, self._pending_values = [], 0
        for job, hashes in zip(jobs, hashed, strict=True):
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


# --------------------------------------------------------------------------- per-column work


def _looks_like_identifier(distinct: float, values: int) -> bool:
    return distinct > values / 2 and distinct > _ID_MIN_DISTINCT


def _numeric_values(
    state: _ColumnState, column: pa.Array
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


def _update_numeric(state: _ColumnState, column: pa.Array) -> None:
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


def _plan_categorical(state: _ColumnState, column: pa.Array) -> _HashJob | None:
    """Count values for top-k unless the column looks like an identifier; say what to hash."""
    non_null = len(column) - column.null_count
    state.n += non_null
    if non_null == 0:
        return None
    if pa.types.is_string_view(column.type):  # few compute kernels accept views yet
        column = column.cast(pa.large_string())
    if state.identifier_like:
        return _HashJob(state, _non_null_strings(column))
    if non_null > _ID_PREFIX_ROWS:
        # value_counts over a million unique strings costs ~0.2 s; a prefix tells us cheaply.
        prefix = column.slice(0, _ID_PREFIX_ROWS)
        prefix_values = len(prefix) - prefix.null_count
        if pa.types.is_dictionary(prefix.type):
            prefix = prefix.indices  # count_distinct has no dictionary kernel
        if pc.count_distinct(prefix).as_py() > prefix_values / 2:
            return _HashJob(state, _non_null_strings(column), probe=True, column=column)
    return _HashJob(state, _count_values(state, column, non_null))


def _count_values(state: _ColumnState, column: pa.Array, non_null: int) -> pa.Array:
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


def _merge_state(mine: _ColumnState, theirs: _ColumnState) -> None:
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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _column_profile(state: _ColumnState) -> ColumnProfile:
    nulls = state.null_count + state.nan_count + state.inf_count
    stats: dict[str, Any] = {}
    n = state.n
    if state.hll is not None and n:
        stats["distinct"] = min(max(round(state.hll.estimate()), 1), n)
    elif state.hll is not None:
        stats["distinct"] = 0
    if state.kind in ("numeric", "temporal") and n:
        assert state.min is not None  # min and max are set together with n
        assert state.max is not None
        stats["min"], stats["max"], stats["mean"] = state.min, state.max, _finite(state.mean)
        stats["std"] = _finite(math.sqrt(state.m2 / (n - 1))) if n > 1 else None
        ranks = list(QUANTILES.values())
        stats["quantiles"] = dict(zip(QUANTILES, state.kll.get_quantiles(ranks), strict=True))
        stats["histogram"] = _histogram(state.kll, float(state.min), float(state.max), n)
    elif state.kind == "categorical" and state.freq is not None:
        stats["top_values"] = _top_values(state.freq)
    elif state.kind == "boolean" and n:
        trues, falses = state.true_count, n - state.true_count
        stats["distinct"] = int(trues > 0) + int(falses > 0)
        stats["mean"] = trues / n
        stats["std"] = math.sqrt(trues * falses / n / (n - 1)) if n > 1 else None
        pairs = sorted([("true", trues), ("false", falses)], key=lambda p: (-p[1], p[0]))
        stats["top_values"] = [p for p in pairs if p[1] > 0]
    return ColumnProfile(
        name=state.name,
        type=str(state.dtype),
        kind=state.kind,
        count=state.count,
        null_count=nulls,
        null_fraction=nulls / state.count if state.count else None,
        nan_count=state.nan_count,
        inf_count=state.inf_count,
        identifier_like=state.identifier_like,
        unit=_epoch_unit(state.dtype),
        **stats,
    )


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


def _top_values(freq: Any) -> list[tuple[str, int]]:
    items = freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    ranked = sorted(((str(i[0]), int(i[1])) for i in items), key=lambda p: (-p[1], p[0]))
    return ranked[:TOP_K]


# --------------------------------------------------------------------------- serialisation


def _state_to_json(state: _ColumnState, blobs: list[bytes]) -> dict[str, Any]:
    def put(blob: bytes) -> int:
        blobs.append(blob)
        return len(blobs) - 1

    return {
        "name": state.name,
        "count": state.count,
        "null_count": state.null_count,
        "nan_count": state.nan_count,
        "inf_count": state.inf_count,
        "n": state.n,
        "mean": state.mean,
        "m2": state.m2,
        "min": state.min,
        "max": state.max,
        "true_count": state.true_count,
        "identifier_like": state.identifier_like,
        "kll": put(state.kll.serialize()) if state.kll is not None else None,
        "freq": put(state.freq.serialize()) if state.freq is not None else None,
        "hll": put(zlib.compress(state.hll.to_bytes())) if state.hll is not None else None,
    }


def _state_from_json(state: _ColumnState, saved: dict[str, Any], blobs: list[bytes]) -> None:
    if saved["name"] != state.name:
        raise ValidationError(f"profile state column {saved['name']!r} does not match its schema")
    for name in ("count", "null_count", "nan_count", "inf_count", "n", "true_count"):
        value = saved[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError(f"profile state field {name!r} is not a count: {value!r}")
        setattr(state, name, value)
    state.mean, state.m2 = float(saved["mean"]), float(saved["m2"])
    if state.m2 < 0:  # a sum of squares; NaN/inf are allowed (overflow is reported as None)
        raise ValidationError(f"profile state sum of squares {state.m2!r} is negative")
    for name in ("min", "max"):
        if saved[name] is not None and not _is_number(saved[name]):
            raise ValidationError(f"profile state field {name!r} is not a number")
        setattr(state, name, saved[name])
    if state.kll is not None:
        _check_kll_bytes(blobs[saved["kll"]])
        state.kll = ds.kll_doubles_sketch.deserialize(blobs[saved["kll"]])
        if state.kll.n != state.n or (state.n and (state.min is None or state.max is None)):
            raise ValidationError("profile state quantile sketch disagrees with its counts")
    if state.hll is not None:
        inflate = zlib.decompressobj()
        registers = inflate.decompress(blobs[saved["hll"]], 1 << 15)  # bounded: no zip bomb
        state.hll = HyperLogLog.from_bytes(registers)
    if saved["identifier_like"] is True:
        state.flag_identifier()
    elif state.freq is not None:
        state.freq = ds.frequent_strings_sketch.deserialize(blobs[saved["freq"]])
        _top_values(state.freq)  # a sketch that deserialises can still fail on first use
        if state.freq.total_weight > state.n:
            raise ValidationError("profile state top-values sketch disagrees with its counts")


def _check_kll_bytes(blob: bytes) -> None:
    """Reject KLL bytes that would make datasketches' C++ read or write out of bounds.

    Its deserialiser trusts the level offsets and lengths it reads (fuzzing it segfaults),
    and NaN items break its sort; so check the layout (the cross-language KLL format:
    8-byte preamble, then n, min_k, num_levels, level offsets, min, max, items) first.
    """
    bad = ValidationError("profile state holds a malformed quantile sketch; re-profile the data")
    if len(blob) < 8:
        raise bad
    _, version, family, flags, k, m = struct.unpack_from("<BBBBHB", blob)
    if family != 15 or m != 8 or k < 8 or version not in (1, 2):
        raise bad
    if flags & 1:  # empty
        items_at = len(blob)
        if len(blob) != 8:
            raise bad
    elif flags & 4:  # exactly one item
        items_at = 8
        if len(blob) != 16:
            raise bad
    else:
        if len(blob) < 20:
            raise bad
        n, _, num_levels = struct.unpack_from("<QHB", blob, 8)
        if not 1 <= num_levels <= 60 or len(blob) < 20 + 4 * num_levels:
            raise bad
        levels = np.frombuffer(blob, "<u4", num_levels, 20).astype(np.int64)
        capacity = _kll_capacity(k, num_levels)
        bounds = np.append(levels, capacity)
        items_at = 20 + 4 * num_levels
        if np.any(np.diff(bounds) < 0) or len(blob) != items_at + 16 + 8 * (capacity - bounds[0]):
            raise bad
        if sum(int(size) << level for level, size in enumerate(np.diff(bounds))) != n:
            raise bad  # every KLL compaction keeps the total weight exact
    if np.isnan(np.frombuffer(blob, "<f8", offset=items_at)).any():
        raise bad


def _kll_capacity(k: int, num_levels: int) -> int:
    """Items a KLL sketch with ``num_levels`` levels holds (datasketches' formula)."""

    def shrink(width: int, depth: int) -> int:  # round(width * (2/3) ** depth)
        return ((((2 * width) << depth) // int(3**depth)) + 1) >> 1

    total = 0
    for depth in range(num_levels):
        half = depth // 2 if depth > 30 else 0
        total += max(8, shrink(shrink(k, half), depth - half))
    return total
