"""The CSV that ``benchmarks/ingest.py`` reads: seeded, generated in chunks, cached.

One row is a customer event of the shape a tabular ML project ingests: a unique id
string, 5 floats (2 at full precision, 3 rounded as a sensor or a price would be, one
with 1% empty cells), 2 integers, 3 low-cardinality categories (one with 1% empty
cells), a free-text comment of 2 to 8 words and a timestamp. A row is about 155
bytes, so 1 GiB is about 7 million rows.

Chunks of :data:`CHUNK_ROWS` rows are built with numpy and Arrow compute and appended
with ``pyarrow.csv.write_csv``, so generating takes bounded memory (~200 MB) whatever
the size. Chunk ``i`` draws from ``numpy.random.default_rng((seed, i))``: the same
seed and size always give the same bytes. A finished file gets a sidecar
``<name>.json`` with its size and row count; a file without one (an interrupted run)
or whose size disagrees is generated again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

__all__ = ["CHUNK_ROWS", "GENERATOR_VERSION", "CsvFile", "ensure_csv", "make_chunk"]

CHUNK_ROWS = 250_000
GENERATOR_VERSION = 1  # bump when the rows change, so cached files are not reused
SEED = 20240611
_MIB = 1 << 20
_EPOCH_2023 = 1_672_531_200  # 2023-01-01T00:00:00Z, seconds
_YEAR_S = 365 * 24 * 3600
_COUNTRIES = [
    "US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "ES",
    "IT", "MX", "NL", "SE", "PL", "KR", "ZA", "AR", "NG", "EG",
]  # fmt: skip
_PLANS = ["free", "basic", "pro", "enterprise"]
_DEVICES = ["ios", "android", "web", "desktop", "tv", "api"]
_WORDS_TEXT = (
    "the a slow fast great poor support price login error refund upgrade cancel "
    "account billing invoice mobile app crash screen update feature request love hate "
    "works broken again never always please thanks help issue ticket agent waited "
    "minutes hours days email phone chat resolved open closed payment card bank "
    "delivery late early package missing damaged ok fine good bad excellent terrible "
    "sync data export import report dashboard chart slowdown timeout password reset"
)
_WORDS = _WORDS_TEXT.split()


@dataclass(frozen=True)
class CsvFile:
    """A generated CSV: where it is, its size in bytes, its data rows, and if it was new."""

    path: Path
    size: int
    rows: int
    generated: bool


def make_chunk(index: int, seed: int = SEED, rows: int = CHUNK_ROWS) -> pa.Table:
    """Rows ``index * rows`` to ``(index + 1) * rows`` of the benchmark data.

    Args:
        index: The chunk number (also part of the random seed).
        seed: The base seed.
        rows: Rows per chunk.

    Returns:
        A table with the columns described in the module docstring.
    """
    rng = np.random.default_rng((seed, index))
    first = index * rows
    # An odd multiplier mod 2**40 is a bijection, so ids stay unique but look random.
    scrambled = ((np.arange(first, first + rows, dtype=np.uint64) * 0x9E3779B1) % (1 << 40)).astype(
        np.int64
    )
    ids = pc.binary_join_element_wise(
        "cus_", pc.utf8_lpad(pa.array(scrambled).cast(pa.string()), 13, "0"), ""
    )
    amount = np.round(rng.lognormal(3.0, 1.0, rows), 2)
    score = rng.normal(0.0, 1.0, rows)
    score_nulls = rng.random(rows) < 0.01
    columns: dict[str, pa.Array] = {
        "id": ids,
        "amount": pa.array(amount),
        "score": pa.array(score, mask=score_nulls),
        "ratio": pa.array(rng.random(rows)),
        "latency_ms": pa.array(np.round(rng.gamma(2.0, 40.0, rows), 1)),
        "temperature": pa.array(np.round(rng.normal(21.0, 4.0, rows), 3)),
        "visits": pa.array(rng.poisson(7.0, rows).astype(np.int64)),
        "age_days": pa.array(rng.integers(0, 5000, rows, dtype=np.int64)),
        "country": _categorical(rng, _COUNTRIES, rows, null_fraction=0.01),
        "plan": _categorical(rng, _PLANS, rows),
        "device": _categorical(rng, _DEVICES, rows),
        "comment": _sentences(rng, rows),
        "event_time": pa.array(
            _EPOCH_2023 + rng.integers(0, _YEAR_S, rows, dtype=np.int64), pa.timestamp("s")
        ),
    }
    return pa.table(columns)


def _categorical(
    rng: np.random.Generator, values: list[str], rows: int, null_fraction: float = 0.0
) -> pa.Array:
    # Zipf-like weights: real categories are skewed, which the top-values sketch must see.
    weights = 1.0 / np.arange(1, len(values) + 1)
    codes = rng.choice(len(values), size=rows, p=weights / weights.sum()).astype(np.int32)
    mask = rng.random(rows) < null_fraction if null_fraction else None
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(values)).cast(
        pa.string()
    )


def _sentences(rng: np.random.Generator, rows: int) -> pa.Array:
    lengths = rng.integers(2, 9, rows, dtype=np.int32)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    words = pa.array(_WORDS).take(pa.array(rng.integers(0, len(_WORDS), int(offsets[-1]))))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def ensure_csv(folder: Path, size_mb: int, seed: int = SEED) -> CsvFile:
    """The cached CSV of about ``size_mb`` MiB in ``folder``; generated if missing or stale.

    Args:
        folder: The cache folder (created if needed).
        size_mb: Target size in MiB; the file ends at the first whole chunk past it.
        seed: The base seed.

    Returns:
        The file, with ``generated`` True when this call wrote it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ingest-v{GENERATOR_VERSION}-s{seed}-{size_mb}mb.csv"
    sidecar = path.with_suffix(".json")
    cached = _read_sidecar(path, sidecar)
    if cached is not None:
        return cached
    sidecar.unlink(missing_ok=True)
    partial = path.with_suffix(".csv.partial")
    rows = _write(partial, size_mb * _MIB, seed)
    os.replace(partial, path)
    size = path.stat().st_size
    sidecar.write_text(json.dumps({"size": size, "rows": rows, "seed": seed}))
    return CsvFile(path, size, rows, generated=True)


def _read_sidecar(path: Path, sidecar: Path) -> CsvFile | None:
    try:
        meta = json.loads(sidecar.read_text())
        if path.stat().st_size == meta["size"]:
            return CsvFile(path, int(meta["size"]), int(meta["rows"]), generated=False)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write(path: Path, target_bytes: int, seed: int) -> int:
    rows = 0
    with pa.OSFile(str(path), "wb") as sink:
        index = 0
        while sink.tell() < target_bytes:
            chunk = make_chunk(index, seed)
            options = pa_csv.WriteOptions(include_header=index == 0)
            pa_csv.write_csv(chunk, sink, write_options=options)
            rows += chunk.num_rows
            index += 1
    return rows
