"""A Redis consumer group: the plumbing shared by stream ingestion and stream inference.

:class:`RedisConsumerGroup` connects (naming the URL without its password in every
message), creates the group if it is missing (an existing one is kept as it is), reads
a batch (messages that idle consumers left pending, reclaimed with XAUTOCLAIM once idle
for ``claim_idle_ms``, then new ones), and turns redis-py errors into ``StoreError``.
What a batch becomes, and how it is acknowledged, is up to the subclass:
:class:`~modelyard.data.stream.StreamConsumer` commits rows to a dataset,
:class:`~modelyard.serving.stream.StreamPredictor` answers with predictions.

redis-py is optional: ``pip install 'modelyard[redis]'``.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

from modelyard.data._stream_rows import DeadLetter
from modelyard.exceptions import ConfigError, MissingDependencyError, StoreError

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "ConsumerConfig",
    "DeadLetter",
    "Message",
    "RedisConsumerGroup",
    "import_redis",
    "newest_id",
    "redact_url",
]

Message = tuple[str, Mapping[bytes, bytes]]
"""A stream entry as redis-py returns it: its id, and its fields as bytes."""

_START_ID = re.compile(r"\$|\d+(-\d+)?")
_DAY_MS = 86_400_000
_LIMITS = (("batch_size", 1, 100_000), ("block_ms", 0, _DAY_MS), ("claim_idle_ms", 1, _DAY_MS))


@dataclass(frozen=True)
class ConsumerConfig:
    """Where and how a consumer of a :class:`RedisConsumerGroup` reads.

    Args:
        stream: The Redis stream key.
        group: The consumer group (created at ``start_id`` if missing).
        consumer: This consumer's name in the group (default ``<hostname>-<pid>``).
        batch_size: Most messages per micro-batch (1 to 100,000).
        block_ms: How long a read waits for new messages; 0 does not wait (up to a day).
        claim_idle_ms: Pending messages idle this long are taken over from their
            consumer; keep it well above the time a batch takes to commit.
        dead_letter: Stream for messages that cannot be handled
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


class RedisConsumerGroup:
    """One consumer of a stream's consumer group: connection, group, reads, errors.

    Subclasses call ``super().__init__`` once their own settings are checked, read with
    :meth:`_next_batch`, and wrap their own Redis calls in :meth:`_translate`.

    Args:
        redis_url: e.g. ``redis://:password@host:6379/0`` (``rediss://`` for TLS).
        config: Stream, group and batching settings.
        purpose: What needs Redis, for the message when redis-py is missing
            (``"stream inference"``).

    Raises:
        MissingDependencyError: redis-py is not installed.
        ConfigError: The URL is malformed.
        StoreError: Redis cannot be reached, or the stream key is not a stream.
    """

    _WRONG_TYPE_HINT = "the key exists and is not a stream: pick another stream name"
    """Said after a WRONGTYPE error; a subclass that writes other streams says which."""

    def __init__(self, redis_url: str, config: ConsumerConfig, *, purpose: str) -> None:
        self._redis = import_redis(purpose)
        self._url = redact_url(redis_url)
        self.config = config
        self._claim_cursor = "0-0"
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

    def close(self) -> None:
        """Release the Redis connection (idempotent)."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _create_group(self) -> None:
        cfg = self.config
        with self._translate("creating the consumer group"):
            try:
                self._client.xgroup_create(cfg.stream, cfg.group, id=cfg.start_id, mkstream=True)
            except self._redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # BUSYGROUP: it exists, which is what we want
                    raise

    def _next_batch(self) -> tuple[list[Message], list[Message]]:
        """Up to ``batch_size`` messages: reclaimed ones first, then new ones.

        Returns:
            The batch (each id once), and the messages of it that were reclaimed.
        """
        claimed = self._reclaim()
        room = self.config.batch_size - len(claimed)
        # Reclaimed work is ready now: only wait for new messages when there is none.
        fresh = self._read(">", room, wait=not claimed) if room > 0 else []
        return list(dict(claimed + fresh).items()), claimed

    def _reclaim(self) -> list[Message]:
        cfg = self.config
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
        # Deleted (trimmed) entries are dropped from the pending list by XAUTOCLAIM itself.
        return [(_text(mid), fields) for mid, fields in reply[1] if fields is not None]

    def _read(self, after: str, count: int, *, wait: bool) -> list[Message]:
        """XREADGROUP from ``after``: ``">"`` for new messages, an id for this consumer's
        own pending ones (a deleted one comes back with no fields)."""
        cfg = self.config
        block = cfg.block_ms if wait and cfg.block_ms > 0 else None  # BLOCK 0 means forever
        action = (
            "reading new messages" if after == ">" else "reading this consumer's pending messages"
        )
        with self._translate(f"{action} (XREADGROUP)"):
            reply = cast(
                "list[Any] | dict[Any, Any] | None",
                self._client.xreadgroup(
                    cfg.group, cfg.consumer, {cfg.stream: after}, count=count, block=block
                ),
            )
        if isinstance(reply, dict):  # RESP3 (protocol=3 in the URL): {stream: [entries]}
            chunks = [entries for value in reply.values() for entries in value]
        else:  # RESP2: [[stream, entries]]
            chunks = [entries for _, entries in reply or []]
        return [(_text(mid), fields or {}) for entries in chunks for mid, fields in entries]

    def _dead_letter_fields(
        self, letter: DeadLetter, fields: Iterable[tuple[bytes, bytes]]
    ) -> list[tuple[str | bytes, str | bytes]]:
        """The fields of ``letter``'s dead-letter entry: its id, stream, group and reason,
        then ``fields`` (the original ones, or some of them), each as ``field:<name>``."""
        cfg = self.config
        entry: list[tuple[str | bytes, str | bytes]] = [
            ("id", letter.message_id),
            ("stream", cfg.stream),
            ("group", cfg.group),
            ("reason", letter.reason),
        ]
        # Prefixed so an original field named "id" or "reason" cannot overwrite ours.
        entry.extend((b"field:" + name, value) for name, value in fields)
        return entry

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Turn redis-py errors into StoreError naming the (password-free) URL."""
        redis = self._redis
        details = {"url": self._url, "stream": self.config.stream, "group": self.config.group}
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
                f"Redis at {self._url} failed while {action} on stream {self.config.stream!r}, "
                f"group {self.config.group!r}: {exc}{self._hint(str(exc))}",
                **details,
            ) from exc

    def _hint(self, message: str) -> str:
        if message.startswith("WRONGTYPE"):
            return f"; {self._WRONG_TYPE_HINT}"
        if message.startswith("NOGROUP"):
            return "; the stream or group was deleted while consuming: restart the consumer"
        return ""


def import_redis(purpose: str = "Redis stream ingestion") -> ModuleType:
    """The ``redis`` module, or an error saying that ``purpose`` needs the redis extra.

    Raises:
        MissingDependencyError: redis-py is not installed.
    """
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the redis package; install it with pip install 'modelyard[redis]'",
            extra="redis",
        ) from exc
    return redis


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``.

    Example:
        >>> redact_url("redis://:hunter2@host:6379/0?password=hunter2")
        'redis://:***@host:6379/0?password=***'
    """
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


def newest_id(ids: Iterable[str], last: str | None) -> str:
    """The newest of the stream ids ``ids`` and ``last`` (None: no id yet), by time then
    sequence (not as text: ``"10-0"`` is newer than ``"9-0"``)."""
    return max([*ids, *([last] if last is not None else [])], key=_id_key)


def _authorization_error(redis: ModuleType) -> type[Exception]:
    # redis-py added AuthorizationError after 5.0; older clients raise ResponseError.
    return cast(
        "type[Exception]",
        getattr(redis.exceptions, "AuthorizationError", redis.AuthenticationError),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_key(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)
