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
write (a crash before it may write the dead letter twice, never lose it).

redis-py is optional: ``pip install 'modelyard[redis]'``.

Example::

    config = ConsumerConfig(stream="events", group="ingest")
    with StreamConsumer("redis://localhost:6379/0", sink, config) as consumer:
        stats = consumer.run(stop_event)
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

import pyarrow as pa

from modelyard.data._stream_rows import MESSAGE_ID_COLUMN, Batch, DeadLetter, build_batch
from modelyard.exceptions import (
    ConfigError,
    ConflictError,
    MissingDependencyError,
    StoreError,
    ValidationError,
)

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["MESSAGE_ID_COLUMN", "ConsumerConfig", "ConsumerStats", "StreamConsumer", "StreamSink"]

_START_ID = re.compile(r"\$|\d+(-\d+)?")
_DAY_MS = 86_400_000
_LIMITS = (("batch_size", 1, 100_000), ("block_ms", 0, _DAY_MS), ("claim_idle_ms", 1, _DAY_MS))
_Message = tuple[str, Mapping[bytes, bytes]]


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


@dataclass(frozen=True)
class ConsumerConfig:
    """Where and how a :class:`StreamConsumer` reads.

    Args:
        stream: The Redis stream key.
        group: The consumer group (created at ``start_id`` if missing).
        consumer: This consumer's name in the group (default ``<hostname>-<pid>``).
        batch_size: Most messages per micro-batch (1 to 100,000).
        block_ms: How long a read waits for new messages; 0 does not wait (up to a day).
        claim_idle_ms: Pending messages idle this long are taken over from their
            consumer; keep it well above the time a batch takes to commit.
        dead_letter: Stream for messages that cannot become rows
            (default ``<stream>:dead-letter``).
        start_id: Where a new group starts: ``"0"`` (everything), ``"$"`` (new only), or an id.

    Raises:
        ConfigError: A value is empty or out of range.
    """

    stream: str
    group: str
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    batch_size: int = 500
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    dead_letter: str = ""
    start_id: str = "0"

    def __post_init__(self) -> None:
        for name in ("stream", "group", "consumer", "start_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"consumer config: {name} must be a non-empty string")
        for name, low, high in _LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"{name}={value!r} is out of range; use a whole number from {low} to {high}"
                )
        if not _START_ID.fullmatch(self.start_id):
            raise ConfigError(
                f"start_id={self.start_id!r} is not '0', '$' or a stream id like '1700000000000-0'"
            )
        if not self.dead_letter:
            object.__setattr__(self, "dead_letter", f"{self.stream}:dead-letter")
        if self.dead_letter == self.stream:
            raise ConfigError(f"dead_letter must differ from the stream {self.stream!r}")


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


class StreamConsumer:
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
        self._redis = _import_redis()
        self._url = _redact_url(redis_url)
        self._sink = sink
        self._config = config
        self._dtypes = _check_dtypes(dtypes or {})
        self._claim_cursor = "0-0"
        self.stats = ConsumerStats()
        try:
            self._client: Redis = self._redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=5,
                socket_timeout=config.block_ms / 1000 + 10,  # a blocking read must not time out
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL {self._url}: {exc}", url=self._url) from None
        try:
            self._create_group()
        except BaseException:
            self.close()
            raise

    def poll_once(self) -> int:
        """Handle one micro-batch: reclaim, read, convert, commit, then acknowledge.

        Returns:
            How many messages were handled (committed, duplicate, or dead-lettered).

        Raises:
            StoreError: Redis failed; whatever the sink raises when a commit fails
                (nothing is acknowledged then, and the batch is redelivered later).
        """
        claimed = self._reclaim()
        room = self._config.batch_size - len(claimed)
        # Reclaimed work is ready now: only wait for new messages when there is none.
        fresh = self._read(room, wait=not claimed) if room > 0 else []
        messages = list(dict(claimed + fresh).items())
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
        newest = max(ids, key=_id_key)
        if stats.last_id is None or _id_key(newest) > _id_key(stats.last_id):
            stats.last_id = newest
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

    def close(self) -> None:
        """Release the Redis connection (idempotent)."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> StreamConsumer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _create_group(self) -> None:
        cfg = self._config
        with self._translate("creating the consumer group"):
            try:
                self._client.xgroup_create(cfg.stream, cfg.group, id=cfg.start_id, mkstream=True)
            except self._redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # BUSYGROUP: it exists, which is what we want
                    raise

    def _reclaim(self) -> list[_Message]:
        cfg = self._config
        with self._translate("reclaiming idle pending messages (XAUTOCLAIM)"):
            reply = self._client.xautoclaim(
                cfg.stream,
                cfg.group,
                cfg.consumer,
                cfg.claim_idle_ms,
                start_id=self._claim_cursor,
                count=cfg.batch_size,
            )
        self._claim_cursor = _text(reply[0])  # resume the scan of the pending list next poll
        return [(_text(mid), fields) for mid, fields in reply[1] if fields is not None]

    def _read(self, count: int, *, wait: bool) -> list[_Message]:
        cfg = self._config
        block = cfg.block_ms if wait and cfg.block_ms > 0 else None  # BLOCK 0 means forever
        with self._translate("reading new messages (XREADGROUP)"):
            reply = cast(
                "list[Any] | dict[Any, Any]",
                self._client.xreadgroup(
                    cfg.group, cfg.consumer, {cfg.stream: ">"}, count=count, block=block
                ),
            )
        if isinstance(reply, dict):  # RESP3 (protocol=3 in the URL): {stream: [entries]}
            chunks = [entries for value in reply.values() for entries in value]
        else:  # RESP2: [[stream, entries]]
            chunks = [entries for _, entries in reply]
        return [(_text(mid), fields) for entries in chunks for mid, fields in entries]

    def _commit(self, messages: list[_Message]) -> tuple[set[str], Batch]:
        """Commit the new rows; returns the ids already committed and the batch."""
        stream = self._config.stream
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
        cfg = self._config
        with self._translate("writing dead letters and acknowledging (XADD, XACK)"):
            pipe = self._client.pipeline(transaction=True)
            for letter in dead:
                entry: dict[str | bytes, str | bytes] = {
                    "id": letter.message_id,
                    "stream": cfg.stream,
                    "group": cfg.group,
                    "reason": letter.reason,
                }
                # Prefixed so an original field named "id" or "reason" cannot overwrite ours.
                entry.update({b"field:" + name: value for name, value in letter.fields.items()})
                pipe.xadd(cfg.dead_letter, entry)  # type: ignore[arg-type]
            pipe.xack(cfg.stream, cfg.group, *ids)
            pipe.execute()

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Turn redis-py errors into StoreError naming the (password-free) URL."""
        redis = self._redis
        details = {"url": self._url, "stream": self._config.stream, "group": self._config.group}
        try:
            yield
        except (redis.AuthenticationError, _authorization_error(redis)) as exc:
            raise StoreError(
                f"Redis at {self._url} refused access while {action}: {exc}; "
                "check the username and password in the URL",
                **details,
            ) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreError(
                f"cannot reach Redis at {self._url} while {action}: {exc}; check that the "
                "server is running and that the host, port and scheme (rediss:// for TLS) are right",
                **details,
            ) from exc
        except redis.RedisError as exc:
            raise StoreError(
                f"Redis at {self._url} failed while {action} on stream {self._config.stream!r}, "
                f"group {self._config.group!r}: {exc}{_hint(str(exc))}",
                **details,
            ) from exc


def _redact_url(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "<unparseable Redis URL>"
    netloc = parts.netloc
    if has_password:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{pair.partition('=')[0]}=***" if pair.partition("=")[0].lower() == "password" else pair
        for pair in parts.query.split("&")
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def _import_redis() -> ModuleType:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            "Redis stream ingestion needs the redis package; install it with "
            "pip install 'modelyard[redis]'",
            extra="redis",
        ) from exc
    return redis


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


def _authorization_error(redis: ModuleType) -> type[Exception]:
    # redis-py added AuthorizationError after 5.0; older clients raise ResponseError.
    return cast(
        "type[Exception]",
        getattr(redis.exceptions, "AuthorizationError", redis.AuthenticationError),
    )


def _hint(message: str) -> str:
    if message.startswith("WRONGTYPE"):
        return "; the key exists and is not a stream: pick another stream name"
    if message.startswith("NOGROUP"):
        return "; the stream or group was deleted while consuming: restart the consumer"
    return ""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_key(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)
