"""A Redis Stream read once, as a source: ``redis://host:6379/0?stream=events``.

``ingest`` takes a snapshot: every message up to the newest one present when the
read starts, in id order, converted to rows by the same rules as the streaming
consumer (a ``data``/``json`` field holding a JSON object, or the fields
themselves; ``_message_id`` records the id). For continuous ingestion with a
consumer group, use :class:`~modelyard.data.stream.StreamConsumer`
(``modelyard data consume``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pyarrow as pa

from modelyard.data._stream_rows import build_batch
from modelyard.data.consumer_group import import_redis, redact_url
from modelyard.data.sources import Source, SourceOptions
from modelyard.exceptions import StoreError, ValidationError

__all__ = ["RedisStreamSource"]


class RedisStreamSource(Source):
    """Every message of one stream, read in pages of ``options.batch_rows``.

    A message that cannot become a row stops the ingest with its id and the
    reason, or, with ``on_bad_lines="skip"``, is counted in ``bad_lines``.
    """

    def __init__(self, url: str, options: SourceOptions) -> None:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        stream = params.pop("stream", "")
        if not stream:
            raise ValidationError(
                f"name the stream to read: {redact_url(url)}?stream=NAME "
                "(for continuous ingestion use `modelyard data consume`)"
            )
        self._url = parts._replace(query=urlencode(params)).geturl()
        self.stream = stream
        super().__init__("redis_stream", redact_url(url), options)

    def describe(self) -> dict[str, Any]:
        """What this source was, for the version's lineage (no password)."""
        return {**super().describe(), "stream": self.stream}

    def batches(self) -> Iterator[pa.RecordBatch]:
        redis = import_redis()
        client = redis.Redis.from_url(self._url, socket_connect_timeout=5)
        try:
            yield from self._read(client)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreError(
                f"cannot read Redis at {self.location}: {exc}; check that it is running "
                "and reachable, and the URL",
                url=self.location,
            ) from None
        except redis.ResponseError as exc:
            raise ValidationError(f"cannot read stream {self.stream!r}: {exc}") from None
        finally:
            client.close()

    def _read(self, client: Any) -> Iterator[pa.RecordBatch]:
        newest = client.xrevrange(self.stream, count=1)
        if not newest:
            return
        end = newest[0][0]
        start: bytes | str = "-"
        schema: pa.Schema | None = None
        dtypes = dict(self.options.dtypes or {})
        while True:
            entries = client.xrange(self.stream, min=start, max=end, count=self.options.batch_rows)
            if not entries:
                return
            messages = [(_text(mid), fields) for mid, fields in entries]
            batch = build_batch(messages, schema, dtypes)
            if batch.dead:
                if self.options.on_bad_lines != "skip":
                    first = batch.dead[0]
                    raise ValidationError(
                        f"message {first.message_id} of stream {self.stream!r} cannot become a "
                        f"row: {first.reason}; pass on_bad_lines='skip' to skip such messages",
                        message_id=first.message_id,
                    )
                self.bad_lines += len(batch.dead)
            if batch.table is not None and batch.table.num_rows:
                schema = schema or batch.table.schema
                yield from batch.table.to_batches()
            last = _text(entries[-1][0])
            if last == _text(end):
                return
            start = "(" + last


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
