"""modelyard's side of ``benchmarks/tracking.py``: run in a fresh temp folder, print one JSON line.

Run by the driver as ``.venv/bin/python -m benchmarks._modelyard_side --calls 2000
--runs 1000 --repeats 5`` with the working directory set to an empty temp folder; the
store is the embedded default, ``my.connect(home=<that folder>)``. Connecting (which
creates and migrates the SQLite database) and populating the runs to search are not
timed; see :mod:`benchmarks._workload` for what is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import modelyard as my
from benchmarks._workload import (
    METRIC_EXPERIMENT,
    SEARCH_EXPERIMENT,
    SEARCH_FILTER,
    emit,
    make_runs,
    parse_side_args,
    time_median,
)


def time_log_metric(calls: int) -> dict[str, Any]:
    """Time ``calls`` sequential ``run.log_metric("loss", ..., step=i)`` inside one run."""
    with my.start_run(experiment=METRIC_EXPERIMENT, run_name="log-metric") as run:
        run.log_metric("warmup", 0.0)  # the first call pays one-time costs; not timed
        start = time.perf_counter()
        for step in range(calls):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        seconds = time.perf_counter() - start
    stored = len(my.get_metric_history(run.run_id, "loss"))
    return {"log_metric_seconds": seconds, "log_metric_points_stored": stored}


def time_search(runs: int, repeats: int) -> dict[str, Any]:
    """Populate ``runs`` runs with ``log_batch`` (untimed), then time the filtered search."""
    stamp = int(time.time() * 1000)
    for record in make_runs(runs):
        with my.start_run(experiment=SEARCH_EXPERIMENT, run_name=record.name) as run:
            run.log_batch(
                metrics=[my.Metric(k, v, 0, stamp) for k, v in record.metrics.items()],
                params=record.params,
            )

    def search() -> Any:
        return my.search_runs(SEARCH_EXPERIMENT, filter=SEARCH_FILTER, max_results=1000)

    median, durations, page = time_median(search, repeats)
    return {
        "search_seconds": median,
        "search_all_seconds": durations,
        "search_matches": len(page),
        "search_complete": page.next_page_token is None,
    }


def main() -> None:
    """Run both workloads on a store in the working directory and print the results."""
    args = parse_side_args("modelyard side of the tracking benchmark")
    my.connect(home=Path.cwd())
    result = {"tool": "modelyard", "version": my.__version__}
    result |= time_log_metric(args.calls)
    result |= time_search(args.runs, args.repeats)
    emit(result)


if __name__ == "__main__":
    main()
