"""Stream inference: read a Redis Stream in a consumer group, predict, write a stream.

Each micro-batch is read (XREADGROUP; messages of dead consumers are reclaimed with
XAUTOCLAIM once idle for ``claim_idle_ms``; on start, this consumer's own pending
messages come first, so a restart under the same name resumes at once), predicted, and
committed: one output message per input (``id``: the input's id, ``prediction`` and
``probabilities`` as JSON, ``model``, ``version``) is added to the sink stream and the
input acknowledged, both in one server-side script call.

Exactly once: the script runs atomically, so an input is either answered *and*
acknowledged or neither (a crash before it: the message is redelivered; after it:
nothing is redelivered), and it writes only messages this consumer still owns, so a
slow consumer whose messages were reclaimed by another cannot answer them a second
time. Messages that do not fit the model's signature go to ``<source>:dead-letter``
(with the reason and the original fields) and are acknowledged in the same way.

The three streams must live on one Redis node (in a cluster: give them one hash tag,
``{churn}:in``, ``{churn}:out``). Message formats: see
:mod:`modelyard.serving._stream_messages` (the format ``modelyard data consume`` reads).

Example::

    with StreamPredictor(registry, "churn@champion", redis_url="redis://localhost:6379/0",
                         source_stream="in", sink_stream="out", group="scoring") as worker:
        worker.run(stop_event)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from modelyard.data import ConsumerConfig
from modelyard.data.consumer_group import DeadLetter, Message, RedisConsumerGroup, newest_id
from modelyard.exceptions import ConfigError
from modelyard.registry import ModelRegistry
from modelyard.serving._stream_messages import output_fields, parse_messages, predict_rows
from modelyard.serving.runtime import load_served_model

__all__ = ["StreamPredictor", "StreamStats"]

_DEAD_FIELDS = 200  # original fields kept on a dead letter (the rest are counted)
_COMMIT_SLICE = 500  # messages per commit script call

# KEYS: source, sink, dead letters. ARGV: group, consumer, then per message: its id,
# where its answer goes ("o" sink, "d" dead letters, "a" nowhere: only acknowledge),
# the number of field pairs and the pairs. Returns how many answers went to the sink,
# how many to the dead letters, and how many messages were no longer this consumer's.
_COMMIT = """
local source, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local sent, dead, lost, i = 0, 0, 0, 3
while i <= #ARGV do
  local id, where, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local owned = redis.call('XPENDING', source, group, id, id, 1, consumer)
  if #owned == 1 then
    if where == 'o' then
      redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 3, i + 2 + 2 * n))
      sent = sent + 1
    elseif where == 'd' then
      redis.call('XADD', KEYS[3], '*', unpack(ARGV, i + 3, i + 2 + 2 * n))
      dead = dead + 1
    end
    redis.call('XACK', source, group, id)
  else
    lost = lost + 1
  end
  i = i + 3 + 2 * n
end
return {sent, dead, lost}
"""


@dataclass
class StreamStats:
    """Running totals of one :class:`StreamPredictor`.

    ``read``: messages handled (reclaimed included); ``predicted``: outputs written;
    ``dead_lettered``: messages set aside; ``lost``: messages another consumer took
    over before this one committed (answered there, not here); ``reclaimed``: taken
    over from idle consumers; ``batches``: non-empty batches; ``last_id``: newest id.
    """

    read: int = 0
    predicted: int = 0
    dead_lettered: int = 0
    lost: int = 0
    reclaimed: int = 0
    batches: int = 0
    last_id: str | None = None


class StreamPredictor(RedisConsumerGroup):
    """Predicts the messages of one stream, answering on another (see the module doc).

    Not thread-safe: run one per thread or process (same group, distinct consumer
    names) to share a stream.

    Args:
        registry: Where the model lives.
        ref: ``churn@champion`` (resolved once, when the predictor starts).
        redis_url: e.g. ``redis://:password@host:6379/0``.
        source_stream: The stream to read.
        sink_stream: The stream the answers go to.
        group: The consumer group (created at the start of the stream if missing).
        consumer: This consumer's name (default ``<hostname>-<pid>``); keep it across
            restarts to resume its pending messages at once.
        batch_size: Most messages per batch (1 to 100,000).
        block_ms: How long a read waits for new messages.
        claim_idle_ms: Pending messages idle this long are taken from their consumer.
        dead_letter: Stream for refused messages (default ``<source>:dead-letter``).

    Raises:
        ConfigError: A setting is out of range, streams that must differ do not, or
            the URL is malformed.
        MissingDependencyError: redis-py is not installed.
        StoreError: Redis cannot be reached, or a key is not a stream.
        NotFoundError: No such model version.
    """

    _WRONG_TYPE_HINT = "a key exists and is not a stream: pick other stream names"

    def __init__(
        self,
        registry: ModelRegistry,
        ref: str,
        *,
        redis_url: str,
        source_stream: str,
        sink_stream: str,
        group: str,
        consumer: str | None = None,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        dead_letter: str | None = None,
    ) -> None:
        options: dict[str, Any] = {"consumer": consumer} if consumer else {}
        config = ConsumerConfig(
            stream=source_stream,
            group=group,
            batch_size=batch_size,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            dead_letter=dead_letter or "",
            **options,
        )
        if not isinstance(sink_stream, str) or not sink_stream:
            raise ConfigError("sink_stream must be a non-empty stream name")
        if sink_stream in (config.stream, config.dead_letter):
            raise ConfigError(
                f"sink_stream {sink_stream!r} must differ from the source and dead-letter streams"
            )
        self.sink_stream = sink_stream
        self.model = load_served_model(registry, ref)
        self.stats = StreamStats()
        self._own_cursor: str | None = "0-0"  # this consumer's pending messages, first
        super().__init__(redis_url, config, purpose="stream inference")
        self._commit_script = self._client.register_script(_COMMIT)

    def poll_once(self) -> int:
        """Read, predict and commit one batch; returns how many messages it handled.

        Raises:
            StoreError: Redis failed (nothing of the batch was committed then, or all).
        """
        claimed: list[Message] = []
        messages = self._own_pending()
        if not messages:
            messages, claimed = self._next_batch()
        if not messages:
            return 0
        sent, dead, lost = self._answer(messages)
        stats = self.stats
        stats.read += len(messages)
        stats.predicted += sent
        stats.dead_lettered += dead
        stats.lost += lost
        stats.reclaimed += len(claimed)
        stats.batches += 1
        stats.last_id = newest_id([mid for mid, _ in messages], stats.last_id)
        return len(messages)

    def run(
        self,
        stop: threading.Event | None = None,
        on_progress: Callable[[StreamStats], None] | None = None,
    ) -> StreamStats:
        """Poll until ``stop`` is set; the batch in hand is always committed first.

        Args:
            stop: Set it (from a signal handler or another thread) to stop; noticed
                within ``block_ms``. None: run until an error.
            on_progress: Called with a snapshot of the totals after each non-empty batch.

        Returns:
            A snapshot of the totals.
        """
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.poll_once() and on_progress is not None:
                on_progress(replace(self.stats))
        return replace(self.stats)

    # -- reading --------------------------------------------------------------
    def _own_pending(self) -> list[Message]:
        """This consumer's messages delivered before a restart and never acknowledged."""
        if self._own_cursor is None:
            return []
        messages = self._read(self._own_cursor, self.config.batch_size, wait=False)
        if not messages:
            self._own_cursor = None
            return []
        self._own_cursor = messages[-1][0]
        return messages

    # -- answering --------------------------------------------------------------
    def _answer(self, messages: list[Message]) -> tuple[int, int, int]:
        """Predict the batch; commit answers, dead letters and acks with the script."""
        gone = [mid for mid, fields in messages if not fields]  # deleted while pending
        rows = parse_messages([m for m in messages if m[1]], self.model.signature)
        ids, prediction, rows = predict_rows(self.model, rows)
        outputs = output_fields(self.model, ids, prediction) if prediction is not None else []
        entries: list[list[str | bytes]] = [
            _entry(mid, "o", list(fields.items())) for mid, fields in zip(ids, outputs, strict=True)
        ]
        entries.extend(_entry(x.message_id, "d", self._dead_fields(x)) for x in rows.rejected)
        entries.extend(_entry(mid, "a", []) for mid in gone)
        keys = [self.config.stream, self.sink_stream, self.config.dead_letter]
        totals = [0, 0, 0]
        # Each message is answered and acknowledged atomically; slices keep one call's
        # argument count modest whatever the batch size.
        for start in range(0, len(entries), _COMMIT_SLICE):
            args: list[str | bytes] = [self.config.group, self.config.consumer]
            for entry in entries[start : start + _COMMIT_SLICE]:
                args.extend(entry)
            with self._translate("writing answers and acknowledging (commit script)"):
                counts = self._commit_script(keys=keys, args=args)
            totals = [a + int(b) for a, b in zip(totals, counts, strict=True)]
        return totals[0], totals[1], totals[2]

    def _dead_fields(self, letter: DeadLetter) -> list[tuple[str | bytes, str | bytes]]:
        original = list(letter.fields.items())
        fields = self._dead_letter_fields(letter, original[:_DEAD_FIELDS])
        if len(original) > _DEAD_FIELDS:  # the commit script unpacks fields onto Lua's stack
            fields.append(("fields_omitted", str(len(original) - _DEAD_FIELDS)))
        return fields


def _entry(mid: str, where: str, fields: list[Any]) -> list[str | bytes]:
    """One message's arguments for the commit script."""
    entry: list[str | bytes] = [mid, where, str(len(fields))]
    for name, value in fields:
        entry.extend((name, value))
    return entry
