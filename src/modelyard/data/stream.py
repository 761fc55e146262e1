"""Streaming ingestion: read a Redis Stream with a consumer group into a dataset.

Each micro-batch is read, converted to one Arrow table (rules in ``_stream_rows``:
a ``data``/``json`` field holding a JSON object, or the message's fields, is one row,
plus a ``_message_id`` column), committed to the dataset as a new version, and only
then acknowledged, so a crash at any point loses nothing. Delivery is at-least-once and
the dataset makes it exactly-once: ids the dataset already holds are dropped before
committing (a redelivery after a crash between commit and XACK, or a reclaim of a slow
consumer's messages). Messages left pending by a consumer that died are reclaimed with
XAUTOCLAIM once idle for ``claim_idle_ms``. A message that cannot become a row goes to
the dead-letter stream with the reason, acknowledged in the same MULTI/EXEC as that
write (a crash before it may write the dead letter twice, never lose it). The
consumer-group plumbing (connection, group, reads, errors) is
:class:`~modelyard.data.consumer_group.RedisConsumerGroup`.

redis-py is optional: ``pip install 'modelyard[redis]'``.

Example::

    config = ConsumerConfig(stream="events", group="ingest")
    with StreamConsumer("redis://localhost:6379/0", sink, config) as consumer:
        stats = consumer.run(stop_event)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import pyarrow as pa

from modelyard.data._stream_rows import MESSAGE_ID_COLUMN, Batch, DeadLetter, build_batch
from modelyard.data.consumer_group import (
    ConsumerConfig,
    Message,
    RedisConsumerGroup,
    newest_id,
)
from modelyard.exceptions import ConflictError, ValidationError

__all__ = ["MESSAGE_ID_COLUMN", "ConsumerConfig", "ConsumerStats", "StreamConsumer", "StreamSink"]


class StreamSink(Protocol):
    """The dataset side of ingestion: where committed rows and their message ids go."""

    @property
    def schema(self) -> pa.Schema | None:
        """The dataset's current schema; None when it has no version yet."""
        ...

    def committed_ids(self, stream: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (message ids of ``stream``) the dataset already holds."""
        ...

    def commit(self, stream: str, table: pa.Table, ids: Sequence[str]) -> None:
        """Append ``table`` as a new version and record ``ids``, atomically.

        Raises on failure, having recorded nothing. Should raise ``ConflictError`` when an
        id is already recorded (two consumers racing on a reclaimed message); the
        consumer then drops the committed ids and retries once.
        """
        ...


@dataclass
class ConsumerStats:
    """Running totals of one consumer.

    ``read``: messages handled, reclaimed ones included; ``committed_rows``: rows written;
    ``duplicates_skipped``: messages the dataset already held; ``dead_lettered``: messages
    set aside; ``batches``: non-empty micro-batches; ``reclaimed``: messages taken over
    from idle consumers; ``last_id``: the newest message id handled.
    """

    read: int = 0
    committed_rows: int = 0
    duplicates_skipped: int = 0
    dead_lettered: int = 0
    batches: int = 0
    reclaimed: int = 0
    last_id: str | None = None


class StreamConsumer(RedisConsumerGroup):
    """Reads one stream through a consumer group and commits micro-batches to a sink.

    Not thread-safe: run one consumer per thread or process (same group, distinct
    ``consumer`` names) to share a stream.

    Args:
        redis_url: e.g. ``redis://:password@host:6379/0`` (``rediss://`` for TLS).
        sink: The dataset to write to.
        config: Stream, group and batching settings.
        dtypes: Column types for the first batch, while the dataset has no schema
            (afterwards the dataset's schema decides; without either, Arrow infers).

    Raises:
        MissingDependencyError: redis-py is not installed.
        ConfigError: The URL is malformed.
        ValidationError: ``dtypes`` holds something other than Arrow types.
        StoreError: Redis cannot be reached, or the stream key is not a stream.
    """

    def __init__(
        self,
        redis_url: str,
        sink: StreamSink,
        config: ConsumerConfig,
        *,
        dtypes: Mapping[str, pa.DataType] | None = None,
    ) -> None:
        self._sink = sink
        self._dtypes = _check_dtypes(dtypes or {})
        self.stats = ConsumerStats()
        super().__init__(redis_url, config, purpose="Redis stream ingestion")

    def poll_once(self) -> int:
        """Handle one micro-batch: reclaim, read, convert, commit, then acknowledge.

        Returns:
            How many messages were handled (committed, duplicate, or dead-lettered).

        Raises:
            StoreError: Redis failed; whatever the sink raises when a commit fails
                (nothing is acknowledged then, and the batch is redelivered later).
        """
        messages, claimed = self._next_batch()
        if not messages:
            return 0
        ids = [message_id for message_id, _ in messages]
        done, batch = self._commit(messages)
        self._acknowledge(ids, batch.dead)
        stats = self.stats
        stats.read += len(messages)
        stats.reclaimed += len(claimed)
        stats.duplicates_skipped += len(done)
        stats.committed_rows += batch.table.num_rows if batch.table is not None else 0
        stats.dead_lettered += len(batch.dead)
        stats.batches += 1
        stats.last_id = newest_id(ids, stats.last_id)
        return len(messages)

    def run(
        self, stop: threading.Event, on_batch: Callable[[ConsumerStats], None] | None = None
    ) -> ConsumerStats:
        """Poll until ``stop`` is set; the batch in hand is always committed and acked first.

        Args:
            stop: Set it (from another thread or a signal handler) to stop; the consumer
                notices within ``block_ms``.
            on_batch: Called with a snapshot of the totals after each non-empty batch.

        Returns:
            A snapshot of the totals.

        Raises:
            StoreError: Redis failed. Errors from the sink or ``on_batch`` also end the
                loop; unacknowledged messages are redelivered later.
        """
        while not stop.is_set():
            if self.poll_once() and on_batch is not None:
                on_batch(replace(self.stats))
        return replace(self.stats)

    def _commit(self, messages: list[Message]) -> tuple[set[str], Batch]:
        """Commit the new rows; returns the ids already committed and the batch."""
        stream = self.config.stream
        done = self._sink.committed_ids(stream, [mid for mid, _ in messages])
        batch = build_batch(
            [m for m in messages if m[0] not in done], self._sink.schema, self._dtypes
        )
        if batch.table is None:
            return done, batch
        try:
            self._sink.commit(stream, batch.table, batch.ids)
        except ConflictError:
            # Another consumer committed some of these first (a reclaim race): drop them.
            raced = self._sink.committed_ids(stream, batch.ids)
            if not raced:
                raise
            keep = [i for i, mid in enumerate(batch.ids) if mid not in raced]
            table = batch.table.take(keep)
            batch = Batch(table if keep else None, [batch.ids[i] for i in keep], batch.dead)
            if keep:
                self._sink.commit(stream, table, batch.ids)
            done = done | raced
        return done, batch

    def _acknowledge(self, ids: list[str], dead: list[DeadLetter]) -> None:
        cfg = self.config
        with self._translate("writing dead letters and acknowledging (XADD, XACK)"):
            pipe = self._client.pipeline(transaction=True)
            for letter in dead:
                entry = dict(self._dead_letter_fields(letter, letter.fields.items()))
                pipe.xadd(cfg.dead_letter, entry)  # type: ignore[arg-type]
            pipe.xack(cfg.stream, cfg.group, *ids)
            pipe.execute()


def _check_dtypes(dtypes: Mapping[str, pa.DataType]) -> dict[str, pa.DataType]:
    bad = [name for name, dtype in dtypes.items() if not isinstance(dtype, pa.DataType)]
    if bad:
        raise ValidationError(
            f"dtypes for {', '.join(map(repr, bad))} are not pyarrow types; "
            "use e.g. pa.int64(), pa.float64(), pa.timestamp('us')"
        )
    if MESSAGE_ID_COLUMN in dtypes:
        raise ValidationError(f"dtypes must not name {MESSAGE_ID_COLUMN!r}; it is always a string")
    return dict(dtypes)
