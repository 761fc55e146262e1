"""The dataset side of stream ingestion: micro-batches become appended versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from modelyard.data.dtypes import schema_from_dict
from modelyard.exceptions import NotFoundError

if TYPE_CHECKING:
    from modelyard.data.client import DataClient

__all__ = ["DatasetSink"]


class DatasetSink:
    """A :class:`~modelyard.data.stream.StreamSink` that appends to one dataset.

    Each commit is one new version holding the batch's rows; the message ids are
    recorded in the same database transaction, so a message redelivered after a
    crash is recognised and never becomes a second row.
    """

    def __init__(self, client: DataClient, name: str) -> None:
        self._client = client
        self.name = name
        self.versions_committed = 0

    @property
    def schema(self) -> pa.Schema | None:
        """The dataset's current schema; None while it has no version."""
        try:
            return schema_from_dict(self._client._store.get_version(self.name).schema)
        except NotFoundError:
            return None

    def committed_ids(self, stream: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already rows of the dataset."""
        return self._client._store.committed_ids(self.name, stream, ids)

    def commit(self, stream: str, table: pa.Table, ids: Sequence[str]) -> None:
        """Append ``table`` as a new version and record ``ids`` with it, atomically."""
        self._client.append(self.name, table, stream=stream, message_ids=ids)
        self.versions_committed += 1
