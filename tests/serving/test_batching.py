"""AdaptiveBatcher: merging, splitting, adaptivity, isolation, shedding, shutdown.

The batcher's contract is about scheduling, not about the model, so these tests use a
small echo model (``infer(feeds) -> Prediction``, like ``ServedModel``) that records the
size of every call and can be held or made to fail; the real ONNX model adds nothing
here but load time.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from modelyard.exceptions import ValidationError
from modelyard.serving.batching import AdaptiveBatcher
from modelyard.serving.errors import ModelNotReady, Overloaded, PayloadTooLarge
from modelyard.serving.runtime import Feeds, Prediction


class EchoModel:
    """Answers ``values = x`` per row; a negative x fails the whole call."""

    name = "echo"
    ref = "echo@1"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def infer(self, feeds: Feeds) -> Prediction:
        self.entered.set()
        assert self.gate.wait(timeout=10), "test left the model gate closed"
        x = np.asarray(feeds["x"], dtype=np.float64).reshape(-1)
        self.batches.append(len(x))
        if self.delay_s:
            time.sleep(self.delay_s)
        if (x < 0).any():
            raise ArithmeticError("poisoned row")
        return Prediction(values=x.copy())


def feeds_for(request_id: int, rows: int = 1) -> Feeds:
    """Rows whose values name their request: request_id * 1000 + row."""
    values = request_id * 1000.0 + np.arange(rows, dtype=np.float64)
    return {
        "x": values.reshape(-1, 1),
        "tag": np.array([f"r{request_id}"] * rows, dtype=object).reshape(-1, 1),
    }


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never became true")


def test_an_idle_request_runs_at_once_even_with_a_long_max_latency() -> None:
    model = EchoModel()

    async def scenario() -> list[float]:
        batcher = AdaptiveBatcher(model, max_latency_ms=200)
        took = []
        for request_id in range(3):
            started = time.perf_counter()
            prediction = await batcher.predict(feeds_for(request_id))
            took.append(time.perf_counter() - started)
            assert prediction.values is not None
            assert prediction.values.tolist() == [request_id * 1000.0]
        # after a large batch, a request that comes after a quiet spell does not wait either
        await asyncio.gather(*(batcher.predict(feeds_for(i)) for i in range(20)))
        assert batcher.stats().last_batch_rows == 20
        await asyncio.sleep(0.25)
        started = time.perf_counter()
        await batcher.predict(feeds_for(99))
        took.append(time.perf_counter() - started)
        await batcher.aclose()
        return took

    took = run(scenario)
    assert max(took) < 0.08, took


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows() -> None:
    model = EchoModel(delay_s=0.005)
    rng = random.Random(7)
    sizes = [rng.randint(1, 3) for _ in range(200)]

    async def scenario() -> list[Prediction]:
        batcher = AdaptiveBatcher(model, max_batch_size=64, max_latency_ms=2)
        answers = await asyncio.gather(
            *(batcher.predict(feeds_for(i, rows)) for i, rows in enumerate(sizes))
        )
        stats = batcher.stats()
        assert stats.batches == len(model.batches)
        assert stats.queue_rows == stats.queue_requests == stats.in_flight_rows == 0
        assert stats.mean_batch_rows == pytest.approx(sum(sizes) / stats.batches)
        await batcher.aclose()
        return answers

    answers = run(scenario)
    for request_id, (rows, answer) in enumerate(zip(sizes, answers, strict=True)):
        assert answer.values is not None
        assert answer.values.tolist() == (request_id * 1000.0 + np.arange(rows)).tolist()
    assert sum(model.batches) == sum(sizes)
    assert len(model.batches) <= 12  # 400-odd rows in 64-row calls, not 200 calls
    assert max(model.batches) <= 64


def test_max_batch_size_caps_every_call_and_a_bigger_request_runs_alone() -> None:
    model = EchoModel()
    sizes = [2] * 40 + [13] + [1] * 5

    async def scenario() -> list[Prediction]:
        batcher = AdaptiveBatcher(model, max_batch_size=8)
        model.gate.clear()
        first = asyncio.ensure_future(batcher.predict(feeds_for(999)))
        await wait_until(model.entered.is_set)  # everything else queues behind it
        rest = [
            asyncio.ensure_future(batcher.predict(feeds_for(i, n))) for i, n in enumerate(sizes)
        ]
        await asyncio.sleep(0)
        model.gate.set()
        answers = await asyncio.gather(first, *rest)
        await batcher.aclose()
        return answers[1:]

    answers = run(scenario)
    assert [len(a.values) for a in answers if a.values is not None] == sizes
    # full 8-row calls in arrival order; the oversized request alone and unsplit
    assert model.batches == [1] + [8] * 10 + [13, 5]


def test_an_error_fails_exactly_the_requests_of_its_batch() -> None:
    model = EchoModel()

    async def scenario() -> list[Any]:
        batcher = AdaptiveBatcher(model, max_batch_size=2)
        model.gate.clear()
        first = asyncio.ensure_future(batcher.predict(feeds_for(1)))
        await wait_until(model.entered.is_set)
        # queued behind the first call: [poison, 2] form one call, [3, 4] the next
        queued = [
            asyncio.ensure_future(
                batcher.predict({"x": np.array([[-1.0]]), "tag": np.array([["p"]], dtype=object)})
            ),
            asyncio.ensure_future(batcher.predict(feeds_for(2))),
            asyncio.ensure_future(batcher.predict(feeds_for(3))),
            asyncio.ensure_future(batcher.predict(feeds_for(4))),
        ]
        await asyncio.sleep(0)
        model.gate.set()
        results = await asyncio.gather(first, *queued, return_exceptions=True)
        after = await batcher.predict(feeds_for(5))  # the worker survived
        await batcher.aclose()
        return [*results, after]

    first, poison, same_batch, third, fourth, after = run(scenario)
    assert model.batches == [1, 2, 2, 1]
    assert isinstance(poison, ArithmeticError)
    assert isinstance(same_batch, ArithmeticError)
    assert first.values.tolist() == [1000.0]
    assert third.values.tolist() == [3000.0]
    assert fourth.values.tolist() == [4000.0]
    assert after.values.tolist() == [5000.0]


def test_a_full_queue_refuses_at_once_with_retry_after() -> None:
    model = EchoModel()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, max_batch_size=4, max_queue_rows=10)
        model.gate.clear()
        running = asyncio.ensure_future(batcher.predict(feeds_for(0, 3)))
        await wait_until(model.entered.is_set)
        queued = [asyncio.ensure_future(batcher.predict(feeds_for(i, 5))) for i in (1, 2)]
        await asyncio.sleep(0)
        assert batcher.stats().queue_rows == 10
        assert batcher.stats().in_flight_rows == 3
        with pytest.raises(Overloaded) as refused:
            await batcher.predict(feeds_for(3))
        assert refused.value.retry_after >= 0.05
        assert refused.value.http_status == 503
        assert refused.value.details["queued_rows"] == 10
        with pytest.raises(PayloadTooLarge, match="11 rows"):
            await batcher.predict(feeds_for(4, 11))
        model.gate.set()
        answers = await asyncio.gather(running, *queued)
        assert [len(a.values) for a in answers] == [3, 5, 5]
        await batcher.predict(feeds_for(5))  # accepted again once the queue drained
        await batcher.aclose()

    run(scenario)


def test_retry_after_grows_with_the_recent_batch_time() -> None:
    model = EchoModel(delay_s=0.05)

    async def scenario() -> float:
        batcher = AdaptiveBatcher(model, max_batch_size=2, max_queue_rows=8)
        for i in range(6):  # teach it that a call takes about 50 ms
            await batcher.predict(feeds_for(i))
        model.gate.clear()
        model.entered.clear()
        tasks = [asyncio.ensure_future(batcher.predict(feeds_for(0)))]
        await wait_until(model.entered.is_set)
        tasks += [asyncio.ensure_future(batcher.predict(feeds_for(i))) for i in range(1, 9)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded) as refused:
            await batcher.predict(feeds_for(10))
        model.gate.set()
        await asyncio.gather(*tasks)
        await batcher.aclose()
        return refused.value.retry_after

    retry_after = run(scenario)
    assert 0.1 <= retry_after <= 1.0  # ~4-5 calls of ~50 ms ahead


def test_aclose_answers_everything_queued_then_refuses() -> None:
    model = EchoModel()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, max_batch_size=3)
        model.gate.clear()
        tasks = [asyncio.ensure_future(batcher.predict(feeds_for(i))) for i in range(10)]
        await wait_until(model.entered.is_set)
        closing = asyncio.ensure_future(batcher.aclose())
        await asyncio.sleep(0.01)
        assert not closing.done()  # waits for the queue to drain
        with pytest.raises(ModelNotReady):
            await batcher.predict(feeds_for(11))
        model.gate.set()
        answers = await asyncio.gather(*tasks)
        await closing
        assert [a.values.tolist() for a in answers] == [[i * 1000.0] for i in range(10)]
        assert batcher.stats().queue_requests == 0
        await batcher.aclose()  # idempotent

    run(scenario)


def test_a_cancelled_request_does_not_break_its_batch() -> None:
    model = EchoModel()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, max_batch_size=16)
        model.gate.clear()
        in_flight = [asyncio.ensure_future(batcher.predict(feeds_for(i))) for i in range(3)]
        await wait_until(model.entered.is_set)
        queued = [asyncio.ensure_future(batcher.predict(feeds_for(i))) for i in range(3, 8)]
        await asyncio.sleep(0)
        in_flight[1].cancel()  # its caller went away during the model call
        queued[2].cancel()  # ... or while it waited in the queue
        await asyncio.sleep(0)
        model.gate.set()
        results = await asyncio.gather(*in_flight, *queued, return_exceptions=True)
        for request_id, result in enumerate(results):
            if request_id in (1, 5):
                assert isinstance(result, asyncio.CancelledError)
            else:
                assert result.values.tolist() == [request_id * 1000.0]
        assert model.batches == [3, 4]  # the queued cancelled request never reached the model
        await batcher.aclose()

    run(scenario)


def test_under_load_batches_fill_up_to_the_last_size() -> None:
    """Clients that come back after a short think time: waiting up to max_latency_ms
    gathers them into fuller calls than running whatever is queued at once."""

    def mean_batch(max_latency_ms: float) -> float:
        model = EchoModel(delay_s=0.002)
        rng = random.Random(3)

        async def client(batcher: AdaptiveBatcher, client_id: int) -> None:
            for step in range(15):
                await asyncio.sleep(rng.uniform(0, 0.003))
                answer = await batcher.predict(feeds_for(client_id * 100 + step))
                assert answer.values.tolist() == [(client_id * 100 + step) * 1000.0]

        async def scenario() -> float:
            batcher = AdaptiveBatcher(model, max_batch_size=64, max_latency_ms=max_latency_ms)
            await asyncio.gather(*(client(batcher, c) for c in range(16)))
            await batcher.aclose()
            return batcher.stats().mean_batch_rows

        return float(run(scenario))

    eager, adaptive = mean_batch(0.0), mean_batch(20.0)
    assert adaptive > eager * 1.5, (eager, adaptive)


def test_stats_and_the_on_batch_hook() -> None:
    model = EchoModel()
    seen: list[tuple[int, float]] = []

    def hook(rows: int, seconds: float) -> None:
        seen.append((rows, seconds))
        raise RuntimeError("a broken hook must not break serving")

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, on_batch=hook)
        assert batcher.stats().batches == 0
        assert batcher.stats().mean_batch_rows == 0.0
        await asyncio.gather(*(batcher.predict(feeds_for(i, 2)) for i in range(5)))
        stats = batcher.stats()
        assert (stats.batches, stats.last_batch_rows, stats.mean_batch_rows) == (1, 10, 10.0)
        assert stats.batch_seconds >= 0
        await batcher.aclose()

    run(scenario)
    assert [rows for rows, _ in seen] == [10]


def test_bad_requests_and_settings_are_refused() -> None:
    model = EchoModel()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model)
        ragged = {"x": np.zeros((3, 1)), "tag": np.array([["a"], ["b"]], dtype=object)}
        with pytest.raises(ValidationError, match="same number of rows"):
            await batcher.predict(ragged)
        with pytest.raises(ValidationError, match="same number of rows"):
            await batcher.predict({"x": np.float64(1.0)})  # a scalar, not rows
        empty = await batcher.predict(
            {"x": np.zeros((0, 1)), "tag": np.zeros((0, 1), dtype=object)}
        )
        assert empty.rows == 0
        await batcher.aclose()

    run(scenario)
    for bad in (
        {"max_batch_size": 0},
        {"max_queue_rows": 0},
        {"max_latency_ms": -1},
        {"max_latency_ms": float("nan")},
    ):
        with pytest.raises(ValidationError):
            AdaptiveBatcher(model, **bad)


def test_a_batcher_belongs_to_one_event_loop() -> None:
    model = EchoModel()
    batcher = AdaptiveBatcher(model)
    run(lambda: batcher.predict(feeds_for(1)))
    with pytest.raises(RuntimeError, match="another event loop"):
        run(lambda: batcher.predict(feeds_for(2)))


def test_small_batches_run_inline_and_big_ones_in_the_executor() -> None:
    threads: list[int] = []

    class ThreadRecorder(EchoModel):
        def infer(self, feeds: Feeds) -> Prediction:
            threads.append(threading.get_ident())
            return super().infer(feeds)

    model = ThreadRecorder()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, max_batch_size=64, inline_max_rows=4)
        small = await batcher.predict(feeds_for(1, 4), rows=4)
        big = await batcher.predict(feeds_for(2, 5))
        assert small.values is not None
        assert small.values.tolist() == [1000, 1001, 1002, 1003]
        assert big.values is not None
        assert big.values.tolist()[0] == 2000
        await batcher.aclose()

    run(scenario)
    loop_thread = threading.get_ident()
    assert threads[0] == loop_thread  # asyncio.run ran the loop in this thread
    assert threads[1] != loop_thread


def test_the_on_predicted_hook_sees_each_batch_whole_with_the_tags() -> None:
    seen: list[tuple[list[tuple[Any, int]], list[float], list[float]]] = []

    def hook(parts: list[tuple[Any, int]], feeds: Feeds, prediction: Prediction) -> None:
        assert prediction.values is not None
        seen.append((parts, feeds["x"].reshape(-1).tolist(), prediction.values.tolist()))

    model = EchoModel()

    async def scenario() -> None:
        batcher = AdaptiveBatcher(model, max_batch_size=64, on_predicted=hook)
        model.gate.clear()  # hold the first call so the next three queue together
        first = asyncio.ensure_future(batcher.predict(feeds_for(0), tag="r0"))
        await wait_until(model.entered.is_set)
        rest = [batcher.predict(feeds_for(i, i), tag=f"r{i}") for i in (1, 2, 3)]
        waiting = asyncio.gather(*rest)
        await wait_until(lambda: batcher.stats().queue_requests == 3)
        model.gate.set()
        await first
        await waiting
        await batcher.aclose()

    run(scenario)
    assert seen[0] == ([("r0", 1)], [0.0], [0.0])
    parts, xs, values = seen[1]
    assert parts == [("r1", 1), ("r2", 2), ("r3", 3)]
    assert xs == values == [1000.0, 2000.0, 2001.0, 3000.0, 3001.0, 3002.0]


def test_a_failing_hook_does_not_fail_the_requests(caplog: pytest.LogCaptureFixture) -> None:
    def hook(*_args: Any) -> None:
        raise RuntimeError("hook bug")

    async def scenario() -> Prediction:
        batcher = AdaptiveBatcher(EchoModel(), on_predicted=hook, inline_max_rows=8)
        try:
            return await batcher.predict(feeds_for(4))
        finally:
            await batcher.aclose()

    answer = run(scenario)
    assert answer.values is not None
    assert answer.values.tolist() == [4000.0]
    assert "on_predicted hook of echo@1 failed" in caplog.text
