"""Prometheus metrics of the inference server (``GET /metrics``).

One :class:`ServingMetrics` per server process owns its metrics in a dedicated
``CollectorRegistry`` (never the global default, so two instances never collide).

Metrics (labels in braces)::

    modelyard_requests_total{model,version,protocol,status}      counter
    modelyard_request_latency_seconds{model,version}             histogram 0.5 ms .. 5 s
    modelyard_batch_size{model}                                  histogram 1 .. 1024 rows
    modelyard_queue_rows{model}                                  gauge (sum over workers)
    modelyard_in_flight{model}                                   gauge (sum over workers)
    modelyard_model_load_seconds{model,version}                  gauge (slowest live worker)
    modelyard_predictions_total{model,version,class}             counter (classifiers)
    modelyard_prediction_value{model,version}                    histogram (regressors)
    modelyard_dropped_log_rows_total                             counter

Several workers (multi-process mode). prometheus-client chooses where values live
once, when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``: the server's
supervisor must set that variable to a fresh, empty folder *before* it starts the
workers (each worker then writes memory-mapped files there, and :meth:`render` in any
worker merges the files of all of them), and must call :func:`mark_worker_dead` with a
worker's pid when that worker exits, so its live gauges (queue, in-flight, load time)
stop counting. Counters and histograms of dead workers keep counting, as Prometheus
expects. Without the variable, :meth:`render` reports this process's registry.

Label values must be bounded: pass a fixed placeholder (say ``"unknown"``) as the model
of a request for a model that does not exist, never the name the client sent.

Request counts and latencies (one of each per request, the hot path) are added up in
plain Python first and written to the metrics by :meth:`ServingMetrics.flush`: at
every :meth:`~ServingMetrics.render`, once ``flush_every`` requests or ``flush_after_s``
seconds have gathered, and from the server's one-second timer. In multi-process mode
another worker's ``/metrics`` therefore shows this worker's requests within about a
second.
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

if TYPE_CHECKING:
    from modelyard.serving.runtime import Prediction

__all__ = [
    "BATCH_BUCKETS",
    "LATENCY_BUCKETS",
    "VALUE_BUCKETS",
    "ServingMetrics",
    "mark_worker_dead",
]

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
VALUE_BUCKETS = tuple(
    [-(10.0**e) for e in range(6, -2, -1)] + [0.0] + [10.0**e for e in range(-1, 7)]
)


def mark_worker_dead(pid: int, directory: str | Path) -> None:
    """Stop counting the live gauges of a worker that exited (call from the supervisor).

    Args:
        pid: The process id of the worker that exited.
        directory: The folder ``PROMETHEUS_MULTIPROC_DIR`` named for the workers.
    """
    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


class ServingMetrics:
    """The server's Prometheus metrics; every method is cheap and thread-safe.

    Args:
        value_buckets: Bucket bounds of ``modelyard_prediction_value`` (regression
            outputs); the default spans ``-1e6 .. 1e6`` by decades.
        flush_every: Write gathered request counts after this many requests.
        flush_after_s: ... or once the oldest gathered one is this old (checked per
            request; an idle server relies on :meth:`flush` from a timer).

    Example::

        metrics = ServingMetrics()
        metrics.observe_request("churn", 3, protocol="v2", status=200, seconds=0.0012)
        body, content_type = metrics.render()
    """

    def __init__(
        self,
        *,
        value_buckets: Sequence[float] = VALUE_BUCKETS,
        flush_every: int = 256,
        flush_after_s: float = 0.5,
    ) -> None:
        # prometheus-client decided at import (from PROMETHEUS_MULTIPROC_DIR) whether
        # values live in shared files; reading must follow the same decision.
        self.multiprocess: bool = bool(getattr(values.ValueClass, "_multiprocess", False))
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "modelyard_requests",
            "Requests answered, by model, version, protocol and HTTP status.",
            ["model", "version", "protocol", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "modelyard_request_latency_seconds",
            "Server-side request latency.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_size = Histogram(
            "modelyard_batch_size",
            "Rows per model call (adaptive batching).",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.queue_rows = Gauge(
            "modelyard_queue_rows",
            "Rows waiting for a model call.",
            ["model"],
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.in_flight = Gauge(
            "modelyard_in_flight",
            "Rows inside a running model call.",
            ["model"],
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.load_seconds = Gauge(
            "modelyard_model_load_seconds",
            "Seconds it took to load and warm up a model version.",
            ["model", "version"],
            multiprocess_mode="livemax",
            registry=reg,
        )
        self.predictions = Counter(
            "modelyard_predictions",
            "Predicted rows per class (classifiers).",
            ["model", "version", "class"],
            registry=reg,
        )
        self.values = Histogram(
            "modelyard_prediction_value",
            "Predicted values (regressors).",
            ["model", "version"],
            buckets=tuple(value_buckets),
            registry=reg,
        )
        self.dropped_log_rows = Counter(
            "modelyard_dropped_log_rows",
            "Prediction and feedback log rows that never reached a file.",
            registry=reg,
        )
        self._lock = threading.Lock()
        self._log_rows_seen = 0
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._flush_every = int(flush_every)
        self._flush_after_s = float(flush_after_s)
        self._pending: dict[tuple[str, int | str, str, int | str], list[float]] = {}
        self._pending_count = 0
        self._pending_since = time.monotonic()

    def observe_request(
        self, model: str, version: int | str, *, protocol: str, status: int | str, seconds: float
    ) -> None:
        """Count one answered request and record its latency.

        Args:
            model: Model name (a fixed placeholder for unknown models).
            version: Version that answered (``""`` when none did).
            protocol: ``"v2"`` (Open Inference Protocol) or ``"json"``.
            status: HTTP status sent.
            seconds: Server-side latency.
        """
        key = (model, version, protocol, status)  # made text at the flush
        with self._lock:
            tally = self._pending.get(key)
            if tally is None:  # per bucket (+Inf last), then the count and the sum
                tally = self._pending[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
            tally[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            tally[-2] += 1
            tally[-1] += seconds
            self._pending_count += 1
            due = self._pending_count >= self._flush_every or (
                time.monotonic() - self._pending_since >= self._flush_after_s
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the requests gathered since the last flush to the metrics."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._pending_count, self._pending_since = 0, time.monotonic()
        for (model, raw_version, protocol, raw_status), tally in pending.items():
            version, status = str(raw_version), str(raw_status)
            self._child(self.requests, model, version, protocol, status).inc(tally[-2])
            histogram = self._child(self.latency, model, version)
            if not _add_to_histogram(histogram, tally[:-2], tally[-1]):
                # another prometheus-client: each at its bucket's bound (sum approximate)
                for bound, rows in zip(
                    (*LATENCY_BUCKETS, LATENCY_BUCKETS[-1]), tally[:-2], strict=True
                ):
                    for _ in range(int(rows)):
                        histogram.observe(bound)

    def observe_batch(self, model: str, rows: int) -> None:
        """Record the size of one model call (the batcher's ``on_batch`` hook)."""
        self._child(self.batch_size, model).observe(rows)

    def set_queue(self, model: str, *, queue_rows: int, in_flight: int) -> None:
        """Set the queue depth and in-flight rows of a model (from ``AdaptiveBatcher.stats()``)."""
        self._child(self.queue_rows, model).set(queue_rows)
        self._child(self.in_flight, model).set(in_flight)

    def set_model_load(self, model: str, version: int | str, seconds: float) -> None:
        """Record how long loading (and warming up) a model version took."""
        self.load_seconds.labels(model, str(version)).set(seconds)

    def observe_log_loss(self, total: int) -> None:
        """Bring ``modelyard_dropped_log_rows_total`` up to ``total``.

        Args:
            total: Rows lost so far, as the logs count them (cumulative; for example
                ``log.dropped + log.failed`` summed over the prediction and feedback logs).
        """
        with self._lock:
            delta, self._log_rows_seen = (
                total - self._log_rows_seen,
                max(total, self._log_rows_seen),
            )
        if delta > 0:
            self.dropped_log_rows.inc(delta)

    def observe_predictions(
        self,
        model: str,
        version: int | str,
        prediction: Prediction,
        classes: Sequence[Any] | None,
    ) -> None:
        """Count predicted classes (classifiers) or record predicted values (regressors).

        Args:
            model: Model name.
            version: Model version.
            prediction: The rows just predicted.
            classes: Class labels in code order (``None`` labels classes by code).
        """
        if prediction.codes is not None:
            count = len(classes) if classes is not None else None
            for code, rows in _count_codes(prediction.codes).items():
                if code >= 0 and (count is None or code < count):  # out of range: a model bug
                    label = str(classes[code]) if classes is not None else str(code)
                    self._child(self.predictions, model, str(version), label).inc(rows)
        elif prediction.values is not None:
            found = np.asarray(prediction.values, dtype=np.float64).reshape(-1)
            _observe_many(self._child(self.values, model, str(version)), found[~np.isnan(found)])

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: the lookup costs more than the update."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> tuple[bytes, str]:
        """The exposition text of every metric, and its content type.

        In multi-process mode the values of all workers are merged.
        """
        self.flush()
        registry = self.registry
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _count_codes(codes: np.ndarray) -> dict[int, int]:
    """Rows per class code; plain Python for the usual handful of rows, numpy beyond."""
    flat = np.asarray(codes).reshape(-1)
    if flat.size <= 64:
        return dict(collections.Counter(flat.tolist()))
    found, rows = np.unique(flat.astype(np.int64), return_counts=True)
    return dict(zip(found.tolist(), rows.tolist(), strict=True))


def _add_to_histogram(histogram: Any, per_bucket: list[float], total: float) -> bool:
    """Add counts per bucket (``observe``'s buckets, +Inf last) and their sum at once;
    False (nothing added) when this prometheus-client's histogram internals differ."""
    buckets = getattr(histogram, "_buckets", None)
    value_sum = getattr(histogram, "_sum", None)
    if buckets is None or value_sum is None or len(buckets) != len(per_bucket):
        return False
    for bucket, rows in zip(buckets, per_bucket, strict=True):
        if rows:
            bucket.inc(rows)
    value_sum.inc(total)
    return True


def _observe_many(histogram: Histogram, found: np.ndarray) -> None:
    """Observe many values at once: one increment per bucket, not one call per value.

    Infinite values are counted in their bucket but left out of the sum.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    if bounds is not None:
        # observe() counts a value in the first bucket whose bound is >= the value
        per_bucket = np.bincount(np.searchsorted(bounds, found, side="left"), minlength=len(bounds))
        finite = found[np.isfinite(found)]  # one infinity would poison the sum for good
        total = float(finite.sum()) if finite.size else 0.0
        if _add_to_histogram(histogram, per_bucket.tolist(), total):
            return
    for value in found.tolist():  # another prometheus-client
        histogram.observe(value)
