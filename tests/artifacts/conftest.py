"""Fixtures for the artifact tests: one storage URL per backend, stores, seeded data."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from modelyard.artifacts import BlobStore


@pytest.fixture(params=["local", "memory"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty artifact storage URL: a local folder, or a unique memory:// path."""
    if request.param == "local":
        yield str(tmp_path / "store")
        return
    url = f"memory://modelyard-tests/{uuid.uuid4().hex}"
    yield url
    fs, root = fsspec.core.url_to_fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def make_store(storage_url: str) -> Callable[..., BlobStore]:
    """Build blob stores over the same storage, with or without a master key."""

    def make(master_key: bytes | None = None) -> BlobStore:
        return BlobStore(storage_url, master_key)

    return make


@pytest.fixture
def rng() -> random.Random:
    """Seeded randomness, so failures reproduce."""
    return random.Random(20240611)


@pytest.fixture
def master_key() -> bytes:
    """A fixed 32-byte master key."""
    return bytes(range(32))


@pytest.fixture
def other_key() -> bytes:
    """Another 32-byte master key, not the one that wrote the blobs."""
    return bytes(range(1, 33))


@pytest.fixture
def stored_files(storage_url: str) -> Callable[[], list[str]]:
    """List every object under the storage URL, relative to it, sorted."""

    def listing() -> list[str]:
        fs, root = fsspec.core.url_to_fs(storage_url)
        if not fs.exists(root):
            return []
        prefix = root.rstrip("/") + "/"
        return sorted(path.removeprefix(prefix) for path in fs.find(root))

    return listing
