"""One side of ``benchmarks/ingest.py``, run in its own process: print one JSON line.

Run by the driver as ``python -m benchmarks._ingest_side {ours,floor} CSV WORKDIR``
with ``TMPDIR`` pointing into ``WORKDIR`` (so staging files land there and go with it).
Only the work itself is timed, never the interpreter start or the imports:

* ``ours``: ``DataClient.ingest(csv, "bench")`` on a fresh home in ``WORKDIR`` (a
  SQLite database and a local artifact folder). It streams the CSV, writes a Parquet
  part, profiles every column, stores the part as a blob and commits the version.
  Creating the client (and migrating the empty database) is timed apart, as ``setup``.
* ``floor``: ``pyarrow.csv.read_csv(csv)`` then ``pyarrow.parquet.write_table`` into
  ``WORKDIR``: what reading and rewriting the file costs with nothing else done.

The JSON line holds ``seconds``, ``rows``, ``parquet_bytes`` and the process's own
peak RSS (``self_maxrss_kb``; the driver also reads it from ``wait4`` after the exit).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def run_ours(csv: Path, workdir: Path) -> dict[str, Any]:
    """Ingest ``csv`` as dataset ``bench`` on a fresh home in ``workdir``."""
    from modelyard.artifacts import BlobStore
    from modelyard.data import DataClient
    from modelyard.store import DatasetStore

    start = time.perf_counter()
    client = DataClient(
        DatasetStore(f"sqlite:///{workdir / 'modelyard.db'}"),
        BlobStore(str(workdir / "artifacts")),
        user="bench",
    )
    setup = time.perf_counter() - start
    with client:
        start = time.perf_counter()
        dataset = client.ingest(csv, "bench")
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "setup_seconds": setup,
            "rows": dataset.num_rows,
            "parquet_bytes": dataset.num_bytes,
            "profiled_columns": len(dataset.profile.columns),
        }


def run_floor(csv: Path, workdir: Path) -> dict[str, Any]:
    """Read ``csv`` whole with ``pyarrow.csv.read_csv`` and write it as one Parquet file."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    out = workdir / "floor.parquet"
    start = time.perf_counter()
    table = pa_csv.read_csv(csv)
    pq.write_table(table, out)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": table.num_rows, "parquet_bytes": out.stat().st_size}


def main() -> None:
    """Run the side named on the command line and print its JSON line."""
    parser = argparse.ArgumentParser(description="one side of the ingest benchmark")
    parser.add_argument("side", choices=("ours", "floor"))
    parser.add_argument("csv", type=Path)
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args()
    # Imports are paid before the clock starts (pyarrow for both, modelyard for ours).
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    if args.side == "ours":
        import modelyard.data  # noqa: F401

    result = (run_ours if args.side == "ours" else run_floor)(args.csv, args.workdir)
    result["side"] = args.side
    result["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
