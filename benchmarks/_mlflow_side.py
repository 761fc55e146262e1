"""MLflow's side of ``benchmarks/tracking.py``: run in a fresh temp folder, print one JSON line.

Run by the driver with the peers interpreter, as ``.venv-peers/bin/python -m
benchmarks._mlflow_side --calls 2000 --runs 1000 --repeats 5``, the repository root on
``PYTHONPATH`` and the working directory set to an empty temp folder, with no
``MLFLOW_TRACKING_URI``: MLflow then uses its default embedded store,
``sqlite:///mlflow.db`` in that folder. Creating and migrating that database (done by
``mlflow.set_experiment``) and populating the runs to search are not timed.

``mlflow.search_runs`` is called with ``output_format="list"`` so that its (default)
conversion of the results to a pandas DataFrame is not counted against it.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any

from benchmarks._workload import (
    METRIC_EXPERIMENT,
    SEARCH_EXPERIMENT,
    SEARCH_FILTER,
    emit,
    make_runs,
    parse_side_args,
    time_median,
)


def _quiet_mlflow() -> None:
    """Silence MLflow's INFO logs (database creation, new experiment) and warnings."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def time_log_metric(mlflow: Any, calls: int) -> dict[str, Any]:
    """Time ``calls`` sequential ``mlflow.log_metric("loss", ..., step=i)`` inside one run."""
    mlflow.set_experiment(METRIC_EXPERIMENT)  # creates and migrates mlflow.db; not timed
    with mlflow.start_run(run_name="log-metric") as run:
        mlflow.log_metric("warmup", 0.0)  # the first call pays one-time costs; not timed
        start = time.perf_counter()
        for step in range(calls):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        seconds = time.perf_counter() - start
    stored = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    return {"log_metric_seconds": seconds, "log_metric_points_stored": stored}


def time_search(mlflow: Any, runs: int, repeats: int) -> dict[str, Any]:
    """Populate ``runs`` runs with ``MlflowClient.log_batch`` (untimed), then time the search."""
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment(SEARCH_EXPERIMENT)
    stamp = int(time.time() * 1000)
    for record in make_runs(runs):
        run_id = client.create_run(experiment_id, run_name=record.name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in record.metrics.items()],
            params=[Param(k, v) for k, v in record.params.items()],
        )
        client.set_terminated(run_id)

    def search() -> Any:
        return mlflow.search_runs(
            experiment_names=[SEARCH_EXPERIMENT],
            filter_string=SEARCH_FILTER,
            max_results=1000,
            output_format="list",
        )

    median, durations, found = time_median(search, repeats)
    return {
        "search_seconds": median,
        "search_all_seconds": durations,
        "search_matches": len(found),
        "search_complete": len(found) < 1000,
    }


def main() -> None:
    """Run both workloads on MLflow's default store in the working directory."""
    args = parse_side_args("MLflow side of the tracking benchmark")
    _quiet_mlflow()
    # Imported only now: MLflow reads MLFLOW_LOGGING_LEVEL when it is imported.
    import mlflow

    result = {"tool": "mlflow", "version": mlflow.__version__}
    result |= time_log_metric(mlflow, args.calls)
    result |= time_search(mlflow, args.runs, args.repeats)
    emit(result)


if __name__ == "__main__":
    main()
