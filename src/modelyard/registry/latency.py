"""A quick latency profile of one model format: single rows and 1,000-row batches.

Good enough to compare formats and to gate on, not a load test (serving has
its own benchmark). Each figure stops repeating after a time budget, so a slow
model costs at most a few seconds at registration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BATCH_ROWS", "profile_latency"]

BATCH_ROWS = 1000
_SINGLE_REPEATS = 100
_BATCH_REPEATS = 20
_MIN_REPEATS = 5
_BUDGET_S = 1.5


def profile_latency(predict: Callable[[pd.DataFrame], Any], sample: pd.DataFrame) -> dict[str, Any]:
    """p50/p99 milliseconds of ``predict`` on one row and on a 1,000-row batch.

    Args:
        predict: The format's predict function over a DataFrame.
        sample: Rows to draw from (tiled to 1,000 rows for the batch figure).

    Returns:
        ``single_p50_ms``, ``single_p99_ms``, ``batch_p50_ms``, ``batch_p99_ms``,
        ``batch_rows`` and the number of repeats behind each.
    """
    if len(sample) == 0:
        raise ValueError("profile_latency needs at least one sample row")
    predict(sample.iloc[:1])  # warm-up: lazy initialisation is not latency
    rows = [sample.iloc[[i % len(sample)]] for i in range(_SINGLE_REPEATS)]
    single = _timed(lambda i: predict(rows[i]), _SINGLE_REPEATS)
    reps = -(-BATCH_ROWS // len(sample))
    batch_frame = pd.concat([sample] * reps, ignore_index=True).iloc[:BATCH_ROWS]
    predict(batch_frame)
    batch = _timed(lambda _i: predict(batch_frame), _BATCH_REPEATS)
    return {
        "single_p50_ms": _pct(single, 50),
        "single_p99_ms": _pct(single, 99),
        "batch_p50_ms": _pct(batch, 50),
        "batch_p99_ms": _pct(batch, 99),
        "batch_rows": len(batch_frame),
        "single_repeats": len(single),
        "batch_repeats": len(batch),
    }


def _timed(call: Callable[[int], Any], repeats: int) -> list[float]:
    times: list[float] = []
    started = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - t0) * 1000.0)
        if len(times) >= _MIN_REPEATS and time.perf_counter() - started > _BUDGET_S:
            break
    return times


def _pct(times: list[float], q: float) -> float:
    return round(float(np.percentile(times, q)), 4)
