"""Module-level data functions: ``my.data.ingest``, ``my.data.get``, ``my.data.query``...

They use one default :class:`DataClient` per process, built from the settings
the first time it is needed (not at import time), or set with :func:`connect`.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa

from modelyard._utils.default_client import DefaultClient
from modelyard.data.client import DataClient
from modelyard.data.dataset import Dataset
from modelyard.data.report import ValidationReport

__all__ = ["append", "connect", "get", "get_client", "ingest", "list_datasets", "query", "validate"]

_default = DefaultClient(DataClient.from_settings, DataClient.close)


def connect(
    *,
    home: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
    artifacts_url: str | None = None,
    master_key: bytes | str | None = None,
    mask_key: bytes | str | None = None,
) -> DataClient:
    """Make (and return) the default data client for this process."""
    return _default.connect(
        home=home,
        db_url=db_url,
        artifacts_url=artifacts_url,
        master_key=master_key,
        mask_key=mask_key,
    )


def get_client() -> DataClient:
    """The default data client (built from the settings on first use, again after a fork)."""
    return _default.get()


def ingest(source: Any, name: str, **options: Any) -> Dataset:
    """Ingest ``source`` as a new version of ``name``; see :meth:`DataClient.ingest`."""
    return get_client().ingest(source, name, **options)


def append(name: str, source: Any, **options: Any) -> Dataset:
    """Append rows to ``name``; see :meth:`DataClient.append`."""
    return get_client().append(name, source, **options)


def get(ref: str) -> Dataset:
    """A dataset version: ``churn``, ``churn@3``, ``churn@<hash>``; see :meth:`DataClient.get`."""
    return get_client().get(ref)


def list_datasets() -> list[Dataset]:
    """The latest version of every dataset."""
    return get_client().list_datasets()


def query(sql: str) -> pa.Table:
    """DuckDB SQL over datasets (``FROM churn@3``); see :meth:`DataClient.query`."""
    return get_client().query(sql)


def validate(ref: str, rules: Any) -> ValidationReport:
    """Check a stored version against rules; see :meth:`DataClient.validate`."""
    return get_client().validate(ref, rules)
