"""ServingMetrics: exposition with the right names and labels, and multi-process sums."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from modelyard.serving.metrics import ServingMetrics, mark_worker_dead
from modelyard.serving.runtime import Prediction


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample called ``name`` whose labels include ``labels``."""
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, f"{len(found)} samples {name}{labels} in:\n{text}"
    return float(found[0])


def test_render_reports_every_metric_with_its_labels() -> None:
    metrics = ServingMetrics()
    for status, seconds in [(200, 0.0008), (200, 0.003), (503, 0.0001)]:
        metrics.observe_request("churn", 3, protocol="v2", status=status, seconds=seconds)
    metrics.observe_batch("churn", 1)
    metrics.observe_batch("churn", 48)
    metrics.set_queue("churn", queue_rows=17, in_flight=5)
    metrics.set_model_load("churn", 3, 1.25)
    classes = ["no", "yes"]
    metrics.observe_predictions("churn", 3, Prediction(codes=np.array([1, 1, 0, 1])), classes)
    metrics.observe_predictions("churn", 3, Prediction(codes=np.array([0])), classes)
    values = np.array([1.5, -3.0, np.nan, 2e7, 0.05])
    metrics.observe_predictions("price", 1, Prediction(values=values), None)
    metrics.observe_log_loss(5)
    metrics.observe_log_loss(7)
    metrics.observe_log_loss(7)

    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert not metrics.multiprocess
    ok = {"model": "churn", "version": "3", "protocol": "v2"}
    assert sample(text, "modelyard_requests_total", **ok, status="200") == 2
    assert sample(text, "modelyard_requests_total", **ok, status="503") == 1
    latency = {"model": "churn", "version": "3"}
    assert sample(text, "modelyard_request_latency_seconds_count", **latency) == 3
    assert sample(text, "modelyard_request_latency_seconds_bucket", **latency, le="0.001") == 2
    assert sample(text, "modelyard_request_latency_seconds_sum", **latency) == pytest.approx(0.0039)
    assert sample(text, "modelyard_batch_size_bucket", model="churn", le="1.0") == 1
    assert sample(text, "modelyard_batch_size_bucket", model="churn", le="64.0") == 2
    assert sample(text, "modelyard_queue_rows", model="churn") == 17
    assert sample(text, "modelyard_in_flight", model="churn") == 5
    assert sample(text, "modelyard_model_load_seconds", model="churn", version="3") == 1.25
    assert sample(text, "modelyard_predictions_total", **latency, **{"class": "yes"}) == 3
    assert sample(text, "modelyard_predictions_total", **latency, **{"class": "no"}) == 2
    price = {"model": "price", "version": "1"}
    assert sample(text, "modelyard_prediction_value_count", **price) == 4  # NaN is not a value
    assert sample(text, "modelyard_prediction_value_bucket", **price, le="-1.0") == 1
    assert sample(text, "modelyard_prediction_value_bucket", **price, le="0.1") == 2
    assert sample(text, "modelyard_prediction_value_bucket", **price, le="10.0") == 3
    assert sample(text, "modelyard_prediction_value_bucket", **price, le="1e+06") == 3
    assert sample(text, "modelyard_prediction_value_bucket", **price, le="+Inf") == 4
    assert sample(text, "modelyard_dropped_log_rows_total") == 7


def test_bulk_value_histogram_matches_one_by_one_observations() -> None:
    rng = np.random.default_rng(5)
    finite = np.concatenate([rng.normal(0, 1000, 500), [0.0, 0.1, -0.1, 1e6, -1e6]])
    metrics = ServingMetrics()
    metrics.observe_predictions("m", 1, Prediction(values=np.r_[finite, np.inf, -np.inf]), None)
    reference = ServingMetrics()
    for value in finite:
        reference.values.labels("m", "1").observe(value)
    ours, theirs = metrics.render()[0].decode(), reference.render()[0].decode()
    name = "modelyard_prediction_value_bucket"
    for le in ["-1000000.0", "-10.0", "0.0", "0.1", "100.0", "1e+06", "+Inf"]:
        labels = {"model": "m", "version": "1", "le": le}
        infinities = 2 if le == "+Inf" else 1  # -inf is in every bucket, +inf only in the last
        assert sample(ours, name, **labels) == sample(theirs, name, **labels) + infinities


def written_requests(metrics: ServingMetrics) -> float:
    """Requests already written to the metrics (read without flushing)."""
    text = generate_latest(metrics.registry).decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "modelyard_requests_total"
    )


def test_gathered_request_latencies_match_one_by_one_observations() -> None:
    rng = np.random.default_rng(11)
    latencies = [*rng.exponential(0.01, 300).tolist(), 0.0005, 0.001, 5.0, 7.5, 0.0]
    metrics = ServingMetrics(flush_every=10**9, flush_after_s=3600)
    reference = ServingMetrics()
    for seconds in latencies:
        metrics.observe_request("m", 2, protocol="v1", status=200, seconds=seconds)
        reference.latency.labels("m", "2").observe(seconds)
    assert written_requests(metrics) == 0  # gathered, not written yet
    ours, theirs = metrics.render()[0].decode(), reference.render()[0].decode()
    name = "modelyard_request_latency_seconds"
    for le in ["0.0005", "0.001", "0.005", "0.02", "1.0", "5.0", "+Inf"]:
        labels = {"model": "m", "version": "2", "le": le}
        assert sample(ours, name + "_bucket", **labels) == sample(
            theirs, name + "_bucket", **labels
        )
    assert sample(ours, name + "_sum", model="m") == pytest.approx(sum(latencies))
    assert sample(ours, "modelyard_requests_total", model="m", status="200") == len(latencies)


def test_gathered_requests_are_written_by_count_and_by_age() -> None:
    by_count = ServingMetrics(flush_every=3, flush_after_s=3600)
    for _ in range(3):
        by_count.observe_request("m", 1, protocol="v1", status=200, seconds=0.001)
    assert written_requests(by_count) == 3
    by_age = ServingMetrics(flush_every=10**9, flush_after_s=0.05)
    by_age.observe_request("m", 1, protocol="v1", status=200, seconds=0.001)
    time.sleep(0.06)
    by_age.observe_request("m", 1, protocol="v1", status=404, seconds=0.001)
    assert written_requests(by_age) == 2


def test_classes_without_labels_and_bad_codes_do_not_raise() -> None:
    metrics = ServingMetrics()
    metrics.observe_predictions("m", 1, Prediction(codes=np.array([0, 2, 2, -1])), None)
    metrics.observe_predictions("m", 1, Prediction(codes=np.array([0, 7])), ["a", "b"])
    metrics.observe_predictions("m", 1, Prediction(codes=np.array([], dtype=np.int64)), ["a"])
    text = metrics.render()[0].decode()
    assert sample(text, "modelyard_predictions_total", model="m", **{"class": "2"}) == 2
    assert sample(text, "modelyard_predictions_total", model="m", **{"class": "0"}) == 1
    assert sample(text, "modelyard_predictions_total", model="m", **{"class": "a"}) == 1


def test_instances_do_not_share_a_registry() -> None:
    first, second = ServingMetrics(), ServingMetrics()
    first.observe_batch("m", 4)
    assert "modelyard_batch_size_bucket{" in first.render()[0].decode()
    assert "modelyard_batch_size_bucket{" not in second.render()[0].decode()


def _worker(index: int, barrier: Any, results: Any) -> None:
    """One server worker: records, waits for its sibling, the first one renders."""
    metrics = ServingMetrics()
    for _ in range(3 + index):
        metrics.observe_request("churn", 1, protocol="json", status=200, seconds=0.002)
    metrics.set_queue("churn", queue_rows=10 * (index + 1), in_flight=1)
    metrics.observe_predictions("churn", 1, Prediction(codes=np.array([1, 1, 0])), ["no", "yes"])
    metrics.flush()  # what the server's one-second timer does
    barrier.wait(timeout=120)
    rendered = metrics.render()[0].decode() if index == 0 else ""
    results.put((index, os.getpid(), metrics.multiprocess, rendered))


@pytest.mark.slow
def test_multiprocess_mode_sums_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # what the supervisor does
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_worker, args=(i, barrier, results)) for i in range(2)]
    for worker in workers:
        worker.start()
    answers = sorted(results.get(timeout=180) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    results.close()
    results.join_thread()
    (_, pid0, multi0, text), (_, pid1, multi1, _) = answers
    assert multi0
    assert multi1
    labels = {"model": "churn", "version": "1", "protocol": "json", "status": "200"}
    assert sample(text, "modelyard_requests_total", **labels) == 7
    assert sample(text, "modelyard_predictions_total", model="churn", **{"class": "yes"}) == 4
    assert sample(text, "modelyard_queue_rows", model="churn") == 30  # live sum of 10 + 20
    assert sample(text, "modelyard_in_flight", model="churn") == 2

    mark_worker_dead(pid1, tmp_path)  # the supervisor saw worker 1 exit
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    after = generate_latest(registry).decode()
    assert sample(after, "modelyard_queue_rows", model="churn") == 10  # its gauge is gone
    assert sample(after, "modelyard_requests_total", **labels) == 7  # its counts stay
    assert pid0 != pid1
