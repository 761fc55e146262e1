"""Where ``DataClient.ingest`` spends its time and memory, stage by stage (a diagnosis aid).

Run as ``python -m benchmarks._ingest_stages CSV [--cprofile N]``. It replays what
``ingest`` does for a CSV, with the same modelyard functions and settings, timing
each stage apart; it changes nothing in modelyard:

* ``csv read``: pulling record batches from the source (``open_source(...).batches()``)
* ``cast``: ``cast_batch`` to the first batch's schema
* ``parquet write``: ``ParquetWriter.write_batch`` (+ ``close``), snappy, 1 Mi-row groups
* ``profile``: ``ProfileBuilder.update``; indented below it, its parts (numeric columns,
  categorical columns, string hashing), timed by wrapping the module's helpers
* ``blob hash`` / ``blob copy``: ``BlobStore.put_file`` split in its two passes
* ``sketches+json``: the sketches to bytes (stored as a blob) and the profile to JSON

Each stage also reports the process peak RSS reached by its end (so far, not its own)
and, at the end, Arrow's peak allocation.
With ``--cprofile N`` the real ``client.ingest`` is then profiled in the same process
and the top N functions by cumulative time are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.artifacts import BlobStore
from modelyard.data import DataClient
from modelyard.data import profile as prof
from modelyard.data.sources import SourceOptions, cast_batch, open_source
from modelyard.store import DatasetStore

T = TypeVar("T")
_ROW_GROUP_ROWS = 1 << 20


class Stages:
    """Seconds per stage, plus the peak RSS (MiB) seen at the end of each stage's calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rss: dict[str, float] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the block's wall time to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.rss[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def call(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` inside stage ``name``."""
        with self.timed(name):
            return fn(*args)


# The profile's own helpers, timed as parts of "profile" wherever this version has them
# (its modules are being split and renamed; a helper that is not found is not timed).
_PROFILE_PARTS = {
    "_update_numeric": "  numeric columns",
    "_plan_categorical": "  categorical columns",
    "_run_hash_jobs": "  string hashing",
    "_flush_hashes": "  string hashing",
}


def _profile_owners(attr: str) -> list[Any]:
    """The modules and classes whose ``attr`` the profile code looks up at call time."""
    modules = [
        m for n, m in sys.modules.items() if n.startswith("modelyard.data.") and "profile" in n
    ]
    classes = [c for c in prof.ProfileBuilder.__mro__ if attr in vars(c)]
    return [m for m in modules if callable(getattr(m, attr, None))] + classes


@contextmanager
def instrument_profile(stages: Stages) -> Iterator[None]:
    """Time the parts of ``ProfileBuilder.update`` by wrapping its helpers (restored after)."""
    saved: list[tuple[Any, str, Any]] = []
    for attr, stage in _PROFILE_PARTS.items():
        for owner in _profile_owners(attr):
            original = vars(owner)[attr]

            def timed(*args: Any, _fn: Any = original, _stage: str = stage) -> Any:
                return stages.call(_stage, _fn, *args)

            saved.append((owner, attr, original))
            setattr(owner, attr, timed)
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def replay(stages: Stages, csv: Path, workdir: Path) -> int:
    """Ingest ``csv`` stage by stage into a fresh home in ``workdir``; the rows read."""
    source = open_source(csv, SourceOptions())
    batches = source.batches()
    writer: pq.ParquetWriter | None = None
    builder: prof.ProfileBuilder | None = None
    schema: pa.Schema | None = None
    rows = 0
    part = workdir / "part.parquet"
    while True:
        raw = stages.call("csv read", next, batches, None)
        if raw is None:
            break
        if writer is None:
            schema = raw.schema.remove_metadata()
            writer = pq.ParquetWriter(part, schema, compression="snappy")
            builder = prof.ProfileBuilder(schema)
        assert schema is not None
        assert builder is not None
        batch = stages.call("cast", cast_batch, raw, schema, str(csv))
        with stages.timed("parquet write"):
            writer.write_batch(batch, row_group_size=_ROW_GROUP_ROWS)
        stages.call("profile", builder.update, batch)
        rows += batch.num_rows
    assert writer is not None
    assert builder is not None
    stages.call("parquet write", writer.close)
    blobs = BlobStore(str(workdir / "artifacts"))
    with stages.timed("blob hash"), open(part, "rb") as handle:
        hashlib.file_digest(handle, "sha256")
    with stages.timed("blob copy"):
        blobs.put_file(part)  # hashes again: subtract "blob hash" for the copy alone
    stages.seconds["blob copy"] -= stages.seconds["blob hash"]
    with stages.timed("sketches+json"):
        blobs.put_bytes(builder.to_bytes())
        builder.result().to_dict()
    return rows


def main() -> None:
    """Replay the ingest stage by stage, print the table, optionally cProfile the real one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--cprofile", type=int, default=0, help="top N functions of ingest()")
    args = parser.parse_args()
    size_mb = args.csv.stat().st_size / (1 << 20)
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-stages-") as folder:
        start = time.perf_counter()
        with instrument_profile(stages := Stages()):
            rows = replay(stages, args.csv, Path(folder))
        total = time.perf_counter() - start
    print(
        f"{args.csv} ({size_mb:,.0f} MiB, {rows:,} rows): {total:.2f} s, {size_mb / total:.1f} MB/s"
    )
    print(f"{'stage':<22}{'seconds':>9}{'share':>8}{'peak RSS so far':>16}")
    for name, seconds in stages.seconds.items():
        print(f"{name:<22}{seconds:>9.2f}{seconds / total:>8.0%}{stages.rss[name]:>16,.0f}")
    unaccounted = total - sum(v for k, v in stages.seconds.items() if not k.startswith(" "))
    print(f"{'(loop, other)':<22}{unaccounted:>9.2f}{unaccounted / total:>8.0%}")
    print(f"arrow peak allocation: {pa.default_memory_pool().max_memory() / (1 << 20):,.0f} MiB")
    if args.cprofile:
        with tempfile.TemporaryDirectory(prefix="modelyard-bench-stages-") as folder:
            home = Path(folder)
            client = DataClient(
                DatasetStore(f"sqlite:///{home / 'my.db'}"), BlobStore(str(home / "a")), user="b"
            )
            profiler = cProfile.Profile()
            with client:
                profiler.runcall(client.ingest, args.csv, "bench")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
