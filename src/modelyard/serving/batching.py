"""Adaptive micro-batching: concurrent requests to one model share one model call.

One :class:`AdaptiveBatcher` per served model. Requests queue as (feeds, rows,
future); one asyncio worker task takes them in order:

- **Idle, no added wait.** When the worker is idle, a request runs at once (a batch of
  whatever is queued, usually just itself).
- **Busy, batches form by themselves.** While a model call runs, arrivals queue; the
  next call takes queued requests up to ``max_batch_size`` rows. Requests that arrive
  in the same turn of the event loop always share a call.
- **Small calls run inline.** A batch of at most ``inline_max_rows`` rows runs on the
  event loop itself: for an ONNX model that is tens of microseconds, less than handing
  it to a thread and back costs. Bigger batches (and models that may be slow, such as
  native pipelines: ``inline_max_rows=0``) run in ``executor``, by default a dedicated
  one-thread pool, so calls to one model serialise either way.
- **Under load, batches are filled.** Right after a batch of ``n > 1`` rows, if fewer
  than ``n`` rows are queued, the worker waits for more until ``n`` rows are there or
  ``max_latency_ms`` after that batch ended, whichever comes first. The wait follows the
  load: it is never longer than ``max_latency_ms``, shrinks as the load drops, and a
  request arriving after a quiet spell longer than ``max_latency_ms`` never waits.

The feeds of a batch are concatenated per input (axis 0), the model answers once and
the :class:`~modelyard.serving.runtime.Prediction` is split back by row ranges; the
``on_predicted`` hook sees the whole batch at once (the prediction log writes batches,
not requests). An
exception fails exactly the requests of its batch; a request whose caller went away
(its task was cancelled) is skipped. The queue is bounded: over ``max_queue_rows`` the
request is refused at once with :class:`~modelyard.serving.errors.Overloaded` (HTTP
503 with ``Retry-After``) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.exceptions import ModelyardError, ValidationError
from modelyard.serving._blocks import BlockFeeds, same_columns
from modelyard.serving.errors import ModelNotReady, Overloaded, PayloadTooLarge
from modelyard.serving.runtime import Feeds, Prediction, ServedModel

__all__ = ["AdaptiveBatcher", "BatchHook", "BatcherStats"]

_log = logging.getLogger(__name__)
_SMOOTHING = 0.2  # weight of the newest batch in the recent model-call time


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """A snapshot of one batcher, for metrics and health pages.

    Attributes:
        queue_rows: Rows waiting for a model call.
        queue_requests: Requests waiting for a model call.
        in_flight_rows: Rows in the model call running now (0 when idle).
        last_batch_rows: Rows of the last model call.
        batches: Model calls so far.
        mean_batch_rows: Mean rows per model call so far.
        batch_seconds: Recent mean duration of one model call (smoothed).
    """

    queue_rows: int
    queue_requests: int
    in_flight_rows: int
    last_batch_rows: int
    batches: int
    mean_batch_rows: float
    batch_seconds: float


@dataclass(slots=True)
class _Request:
    feeds: Feeds
    rows: int
    future: asyncio.Future[Prediction]
    tag: Any


BatchHook = Callable[[list[tuple[Any, int]], Feeds, Prediction], None]
"""``on_predicted(parts, feeds, prediction)``: ``parts`` is ``(tag, rows)`` per request
of the batch, in row order; ``feeds`` and ``prediction`` hold all of its rows."""


def _count_rows(feeds: Feeds) -> int:
    """Rows of a request; every input must have the same number."""
    lengths = {
        name: int(np.shape(array)[0]) if np.ndim(array) else -1 for name, array in feeds.items()
    }
    distinct = set(lengths.values())
    if len(distinct) > 1 or -1 in distinct:
        raise ValidationError(
            f"the inputs of one request must have the same number of rows, got {lengths}; "
            "send one value per row for every input",
            rows=lengths,
        )
    return distinct.pop() if distinct else 0


class AdaptiveBatcher:
    """Merge concurrent requests to one model into batched model calls.

    Bound to the event loop of its first :meth:`predict`; use it from that loop only.

    Args:
        model: The served model (``infer(feeds) -> Prediction``, thread-safe).
        max_batch_size: Most rows in one model call (a single larger request runs
            alone, unsplit).
        max_latency_ms: Longest extra wait for a batch to fill under load.
        max_queue_rows: Most rows waiting; beyond that :meth:`predict` refuses.
        executor: Where model calls run; default a one-thread pool of this batcher
            (shut down by :meth:`aclose`; a given executor is left running).
        on_batch: Called after every model call with ``(rows, seconds)`` (for
            ``ServingMetrics.observe_batch``); its exceptions are logged, not raised.
        inline_max_rows: Batches of at most this many rows run on the event loop
            (0: every call goes to ``executor``). Only for fast, non-blocking models.
        on_predicted: Called after every successful model call (see :data:`BatchHook`);
            its exceptions are logged, not raised.

    Raises:
        ValidationError: A limit is out of range.

    Example::

        batcher = AdaptiveBatcher(model, max_batch_size=64, max_latency_ms=2)
        prediction = await batcher.predict(feeds)
        await batcher.aclose()
    """

    def __init__(
        self,
        model: ServedModel,
        *,
        max_batch_size: int = 64,
        max_latency_ms: float = 2.0,
        max_queue_rows: int = 10_000,
        executor: Executor | None = None,
        on_batch: Callable[[int, float], None] | None = None,
        inline_max_rows: int = 0,
        on_predicted: BatchHook | None = None,
    ) -> None:
        if (
            max_batch_size < 1
            or max_queue_rows < 1
            or inline_max_rows < 0
            or not 0 <= max_latency_ms < math.inf
        ):
            raise ValidationError(
                "max_batch_size and max_queue_rows must be >= 1, inline_max_rows >= 0 and "
                f"max_latency_ms a finite number >= 0, got {max_batch_size}, {max_queue_rows}, "
                f"{inline_max_rows}, {max_latency_ms}",
                max_batch_size=max_batch_size,
                max_queue_rows=max_queue_rows,
                inline_max_rows=inline_max_rows,
                max_latency_ms=max_latency_ms,
            )
        self.model = model
        self.max_batch_size = int(max_batch_size)
        self.max_latency_ms = float(max_latency_ms)
        self.max_queue_rows = int(max_queue_rows)
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"modelyard-{model.name}"
        )
        self._on_batch = on_batch
        self._on_predicted = on_predicted
        self.inline_max_rows = int(inline_max_rows)
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._in_flight_rows = 0
        self._arrived = asyncio.Event()
        self._wanted_rows = 1  # wake the worker once this many rows are queued
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._last_rows = 0
        self._last_end = -math.inf
        self._batches = 0
        self._rows = 0
        self._batch_seconds = 0.0

    async def predict(self, feeds: Feeds, rows: int | None = None, tag: Any = None) -> Prediction:
        """Predict the rows of one request, batched with concurrent ones.

        Args:
            feeds: One ``[N, 1]`` array per model input, all with the same N.
            rows: N, when the caller built the feeds and knows it (else counted here).
            tag: Handed to ``on_predicted`` with this request's rows (a request id, say).

        Returns:
            The prediction for exactly these N rows.

        Raises:
            Overloaded: The queue is full; retry after ``retry_after`` seconds.
            PayloadTooLarge: The request alone has more rows than the queue may hold.
            ModelNotReady: The batcher is closing (the model is being unloaded).
            ValidationError: The inputs differ in length.
            Exception: Whatever the model raised for the batch this request was in.
        """
        if self._closing:
            raise ModelNotReady(
                f"{self.model.ref} is being unloaded and takes no new requests; retry shortly",
                model=self.model.ref,
            )
        if rows is None:
            rows = _count_rows(feeds)
        if rows > self.max_queue_rows:
            raise PayloadTooLarge(
                f"{rows} rows in one request exceed the queue limit of {self.max_queue_rows} "
                f"rows for {self.model.ref}; split the request",
                limit=self.max_queue_rows,
                size=rows,
            )
        if self._queued_rows + rows > self.max_queue_rows:
            raise Overloaded(
                f"the queue of {self.model.ref} is full ({self._queued_rows} rows waiting, "
                f"limit {self.max_queue_rows}); retry later",
                retry_after=self._retry_after(),
                model=self.model.ref,
                queued_rows=self._queued_rows,
            )
        future: asyncio.Future[Prediction] = self._ensure_worker().create_future()
        self._queue.append(_Request(feeds, rows, future, tag))
        self._queued_rows += rows
        if self._queued_rows >= self._wanted_rows:  # not on every arrival while filling
            self._arrived.set()
        return await future

    def stats(self) -> BatcherStats:
        """A snapshot of the queue and of the batches so far."""
        return BatcherStats(
            queue_rows=self._queued_rows,
            queue_requests=len(self._queue),
            in_flight_rows=self._in_flight_rows,
            last_batch_rows=self._last_rows,
            batches=self._batches,
            mean_batch_rows=self._rows / self._batches if self._batches else 0.0,
            batch_seconds=self._batch_seconds,
        )

    async def aclose(self) -> None:
        """Refuse new requests, answer every queued one, then stop (idempotent)."""
        self._closing = True
        self._arrived.set()
        if self._worker is not None:
            await asyncio.shield(self._worker)
        if self._own_executor:
            self._executor.shutdown(wait=False)

    def _ensure_worker(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(
                f"the batcher of {self.model.ref} belongs to another event loop; "
                "create one batcher per loop"
            )
        if self._worker is None:  # first request, or the worker died: (re)start it
            self._worker = loop.create_task(self._work(), name=f"batcher {self.model.ref}")
            self._worker.add_done_callback(self._worker_done)
        return loop

    def _retry_after(self) -> float:
        batches_ahead = math.ceil(self._queued_rows / self.max_batch_size)
        batches_ahead += 1 if self._in_flight_rows else 0
        return max(0.05, batches_ahead * self._batch_seconds)

    async def _work(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._fill()
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _fill(self) -> None:
        """Under load, wait (briefly) until about as many rows queue as the last batch had.

        One timer and one wake-up per batch: arrivals wake the worker only once the
        target is reached (see :meth:`predict`), the timer at the deadline.
        """
        target = min(self._last_rows, self.max_batch_size)
        if target < 2 or self._queued_rows >= target or self._closing:
            return
        loop = asyncio.get_running_loop()
        deadline = self._last_end + self.max_latency_ms / 1000
        if loop.time() >= deadline:
            return
        self._wanted_rows = target
        self._arrived.clear()
        timer = loop.call_at(deadline, self._arrived.set)
        try:
            await self._arrived.wait()
        finally:
            timer.cancel()
            self._wanted_rows = 1

    def _take(self) -> list[_Request]:
        """Queued requests for one call: up to ``max_batch_size`` rows, same inputs."""
        batch: list[_Request] = []
        rows = 0
        while self._queue:
            request = self._queue[0]
            if batch and (
                rows + request.rows > self.max_batch_size
                or not same_columns(request.feeds, batch[0].feeds)
            ):
                break
            self._queue.popleft()
            self._queued_rows -= request.rows
            if not request.future.done():  # done here means its caller went away
                batch.append(request)
                rows += request.rows
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        rows = sum(request.rows for request in batch)
        self._in_flight_rows = rows
        started = loop.time()
        try:
            feeds = batch[0].feeds if len(batch) == 1 else _concat(batch)
            if rows <= self.inline_max_rows:
                prediction = self.model.infer(feeds)
            else:
                prediction = await loop.run_in_executor(self._executor, self.model.infer, feeds)
            if prediction.rows != rows:
                raise ModelyardError(
                    f"{self.model.ref} answered {prediction.rows} rows for {rows}",
                    model=self.model.ref,
                )
        except asyncio.CancelledError:
            _fail(batch, ModelNotReady(f"{self.model.ref} was unloaded", model=self.model.ref))
            raise
        except Exception as exc:  # noqa: BLE001 - it belongs to this batch's callers
            _fail(batch, exc)
        else:
            offset = 0
            for request in batch:
                if not request.future.done():
                    part = (
                        prediction
                        if len(batch) == 1
                        else prediction.slice(offset, offset + request.rows)
                    )
                    request.future.set_result(part)
                offset += request.rows
            self._predicted(batch, feeds, prediction)
        finally:
            self._in_flight_rows = 0
            self._finished(rows, loop.time() - started)

    def _finished(self, rows: int, seconds: float) -> None:
        self._batches += 1
        self._rows += rows
        self._last_rows = rows
        self._last_end = asyncio.get_running_loop().time()
        self._batch_seconds += _SMOOTHING * (seconds - self._batch_seconds)
        if self._on_batch is not None:
            try:
                self._on_batch(rows, seconds)
            except Exception:  # noqa: BLE001 - metrics must not break serving
                _log.exception("on_batch hook of %s failed", self.model.ref)

    def _predicted(self, batch: list[_Request], feeds: Feeds, prediction: Prediction) -> None:
        if self._on_predicted is None:
            return
        try:
            self._on_predicted([(r.tag, r.rows) for r in batch], feeds, prediction)
        except Exception:  # noqa: BLE001 - logging must not break serving
            _log.exception("on_predicted hook of %s failed", self.model.ref)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        """A worker that died (a bug, or its loop closing) fails what it left queued."""
        self._worker = None
        error = ModelNotReady(f"the batch worker of {self.model.ref} stopped", model=self.model.ref)
        if not task.cancelled() and task.exception() is not None:
            _log.error("batch worker of %s crashed", self.model.ref, exc_info=task.exception())
        while self._queue:
            request = self._queue.popleft()
            self._queued_rows -= request.rows
            _fail([request], error)


def _concat(batch: list[_Request]) -> Feeds:
    blocks = BlockFeeds.concat([r.feeds for r in batch])  # one call per block, if built so
    if blocks is not None:
        return blocks
    return {name: np.concatenate([r.feeds[name] for r in batch]) for name in batch[0].feeds}


def _fail(batch: list[_Request], error: BaseException) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(error)
