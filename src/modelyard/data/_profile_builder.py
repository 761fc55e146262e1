"""The sketch machinery of ``ProfileBuilder``: batches in, merges, and the byte format.

:class:`SketchBuilder` keeps one :class:`~modelyard.data._profile_state.ColumnState` per
column, queues string columns so that one DuckDB query hashes them all, and saves or
restores every sketch with :meth:`SketchBuilder.to_bytes` and
:meth:`SketchBuilder.from_bytes`. ``profile.ProfileBuilder`` subclasses it and adds
``result()``, which turns :meth:`SketchBuilder._column_stats` into a ``Profile``; this
module does not know the result types, so they can import it.

The byte format: magic, SHA-256 of the body, then the body: a length-prefixed JSON
header, the Arrow IPC schema and the sketch blobs (datasketches' own serialisation,
zlib-compressed HyperLogLog registers) that the header points at.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from typing import Any, Self

import datasketches as ds
import numpy as np
import pyarrow as pa

from modelyard.data._hll import HyperLogLog, StringHasher
from modelyard.data._profile_state import (
    ColumnState,
    HashJob,
    column_stats,
    fold_hashes,
    merge_state,
    top_values,
    update_column,
)
from modelyard.exceptions import ValidationError

__all__ = ["SketchBuilder"]

_HASH_BATCH_VALUES = 1 << 18  # strings wait for one DuckDB query (~1-3 ms fixed cost each)
_MAGIC = b"MYPROF1\n"
_DIGEST = 32
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


class SketchBuilder:
    """Per-column sketches over record batches; the base of ``ProfileBuilder``.

    Not thread-safe: one builder per stream. It hashes strings with DuckDB (a connection
    opened on first use); :meth:`to_bytes` does not need it.

    Args:
        schema: The schema every batch will have (metadata is ignored).

    Raises:
        ValidationError: The schema has duplicate column names.
    """

    def __init__(self, schema: pa.Schema) -> None:
        names = schema.names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(
                f"duplicate column names {duplicates} in schema; rename them before profiling"
            )
        self._schema = schema.remove_metadata()
        self._columns = [ColumnState.fresh(f.name, f.type) for f in self._schema]
        self._num_rows = 0
        self._hasher = StringHasher()
        self._hash_probe: int | None = None
        self._pending: list[HashJob] = []
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
            job = update_column(state, column)
            if job is not None:
                self._pending.append(job)
                self._pending_values += len(job.values)
                probing = probing or job.probe
        if probing or self._pending_values >= _HASH_BATCH_VALUES:
            self._flush_hashes()

    def merge(self, other: Self) -> None:
        """Add ``other``'s data to this profile (e.g. an append to a dataset).

        Args:
            other: A builder over the same column names and types; it is not changed.

        Raises:
            ValidationError: The schemas differ, or the two builders hashed strings
                with different DuckDB hash functions (re-profile all the data).
        """
        if not isinstance(other, SketchBuilder):
            raise ValidationError(f"merge() takes a ProfileBuilder, got {type(other).__name__}")
        if other is self:  # sketches cannot merge into themselves; double a copy instead
            other = self.from_bytes(self.to_bytes())
        self._check_schema(other._schema, "the other profile")
        self._adopt_hash_probe(other._hash_probe)
        self._flush_hashes()
        other._flush_hashes()  # changes how other holds its data, not what it holds
        self._num_rows += other._num_rows
        for mine, theirs in zip(self._columns, other._columns, strict=True):
            merge_state(mine, theirs)

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
    def from_bytes(cls, data: bytes) -> Self:
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
    def _decode(cls, body: bytes) -> Self:
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

    def _column_stats(self) -> list[dict[str, Any]]:
        """Each column's ``ColumnProfile`` fields, in schema order (hashes flushed first)."""
        self._flush_hashes()
        return [column_stats(s) for s in self._columns]

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

    def _flush_hashes(self) -> None:
        """Hash the strings waiting since the last flush into their columns' sketches."""
        jobs = self._pending
        if not jobs:
            return
        self._adopt_hash_probe(self._hasher.probe())
        hashed = self._hasher.hash([j.values for j in jobs])
        self._pending, self._pending_values = [], 0
        for job, hashes in zip(jobs, hashed, strict=True):
            fold_hashes(job, hashes)


# --------------------------------------------------------------------------- serialisation


def _state_to_json(state: ColumnState, blobs: list[bytes]) -> dict[str, Any]:
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


def _state_from_json(state: ColumnState, saved: dict[str, Any], blobs: list[bytes]) -> None:
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
        value = saved[name]
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ValidationError(f"profile state field {name!r} is not a number")
        setattr(state, name, value)
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
        top_values(state.freq)  # a sketch that deserialises can still fail on first use
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
