"""The workload both sides of ``benchmarks/tracking.py`` run, shared so they run the same one.

Standard library only: this module is imported by the modelyard side (project
virtualenv) and by the MLflow side (the peers virtualenv, which has no modelyard).
Each side is a script run as ``python -m benchmarks._<tool>_side --calls N --runs N
--repeats N`` with the working directory set to a fresh temp folder; it prints one
JSON line of results (see :func:`emit`) and nothing else on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "METRIC_EXPERIMENT",
    "N_METRICS",
    "N_PARAMS",
    "SEARCH_EXPERIMENT",
    "SEARCH_FILTER",
    "RunRecord",
    "emit",
    "expected_matches",
    "make_runs",
    "parse_side_args",
    "time_median",
]

METRIC_EXPERIMENT = "bench"
SEARCH_EXPERIMENT = "bench-search"
SEARCH_FILTER = "metrics.m0 > 0.5"
N_PARAMS = 10
N_METRICS = 10
_SEED = 20240611


@dataclass(frozen=True)
class RunRecord:
    """What one run of the search workload holds: a name, 10 params and 10 metrics."""

    name: str
    params: dict[str, str]
    metrics: dict[str, float]


def make_runs(count: int, seed: int = _SEED) -> list[RunRecord]:
    """The runs to populate, identical on both sides (seeded; ``m0`` uniform in [0, 1)).

    Args:
        count: How many runs.
        seed: Seed of the generator; the same seed gives the same runs on any Python 3.

    Returns:
        ``count`` records, so that about half have ``m0 > 0.5``.
    """
    rng = random.Random(seed)
    return [
        RunRecord(
            name=f"run-{i:05d}",
            params={f"p{j}": f"v{rng.randrange(1000)}" for j in range(N_PARAMS)},
            metrics={f"m{j}": rng.random() for j in range(N_METRICS)},
        )
        for i in range(count)
    ]


def expected_matches(runs: list[RunRecord]) -> int:
    """How many runs :data:`SEARCH_FILTER` (``metrics.m0 > 0.5``) should return."""
    return sum(run.metrics["m0"] > 0.5 for run in runs)


def time_median(call: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Call ``call`` once untimed (warm-up), then ``repeats`` times timed.

    Returns:
        The median seconds, every timed duration, and the last call's result.
    """
    result = call()
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), durations, result


def parse_side_args(description: str) -> argparse.Namespace:
    """The arguments every side script takes: ``--calls``, ``--runs``, ``--repeats``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--calls", type=int, required=True, help="log_metric calls to time")
    parser.add_argument("--runs", type=int, required=True, help="runs to search over")
    parser.add_argument("--repeats", type=int, required=True, help="timed search repetitions")
    return parser.parse_args()


def emit(result: dict[str, Any]) -> None:
    """Print the side's results as the one JSON line the driver reads."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
