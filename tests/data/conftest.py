"""Data clients on real SQLite (and PostgreSQL) databases and local artifact folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.artifacts import BlobStore
from modelyard.data import DataClient
from modelyard.store import DatasetStore

MASK_KEY = b"test-mask-key-0123456789abcdef"


def make_client(db_url: str, root: Path, **kwargs: object) -> DataClient:
    """A data client on ``db_url`` with its artifacts under ``root``."""
    blobs = BlobStore(str(root / "artifacts"), kwargs.pop("master_key", None))  # type: ignore[arg-type]
    return DataClient(DatasetStore(db_url), blobs, user="tester", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def data(tmp_path: Path) -> Iterator[DataClient]:
    """A data client on a fresh SQLite file, with a mask key configured."""
    client = make_client(f"sqlite:///{tmp_path / 'my.db'}", tmp_path, mask_key=MASK_KEY)
    yield client
    client.close()


@pytest.fixture
def any_data(db_url: str, tmp_path: Path) -> Iterator[DataClient]:
    """A data client on each backend (SQLite and PostgreSQL)."""
    client = make_client(db_url, tmp_path, mask_key=MASK_KEY)
    yield client
    client.close()


def blob_files(root: Path) -> list[Path]:
    """Every blob file stored under ``root``'s artifact folder."""
    return sorted(p for p in (root / "artifacts").rglob("*") if p.is_file())
