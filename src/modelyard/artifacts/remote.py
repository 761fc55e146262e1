"""Artifact storage in any fsspec filesystem (S3, GCS, Azure, memory, ...)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any, BinaryIO, cast

import fsspec

from modelyard.artifacts._io import source_errors, storage_errors
from modelyard.artifacts.paths import validate_logical_path
from modelyard.exceptions import MissingDependencyError, ValidationError

__all__ = ["FsspecStorage"]


class FsspecStorage:
    """Objects in any fsspec filesystem (``s3://bucket/prefix``, ``memory://x``...).

    Whole objects are written with one ``pipe_file``/``put_file`` call, which is
    atomic on object stores (S3, GCS, Azure). Other fsspec filesystems (SFTP, SMB)
    may show a partial object after a failed write; the blob layer still never
    returns it, because every read is verified against its hash.

    Args:
        url: An fsspec URL; its path is the prefix all keys live under.
        **storage_options: Passed to the fsspec filesystem (credentials, endpoint...).

    Raises:
        ValidationError: The URL's protocol is unknown to fsspec.
        MissingDependencyError: The protocol needs a package that is not installed.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except ImportError as exc:
            raise MissingDependencyError(
                f"the artifact storage {url!r} needs a package that is not installed: {exc}",
                url=url,
            ) from exc
        except ValueError as exc:
            raise ValidationError(
                f"cannot use {url!r} as artifact storage: {exc}; use a local folder or an "
                "fsspec URL such as s3://bucket/prefix, gs://bucket/prefix or memory://name",
                url=url,
            ) from exc
        self._url = url
        self._fs: fsspec.AbstractFileSystem = fs
        self._root = str(root).rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecStorage({self._url!r})"

    @property
    def url(self) -> str:
        """The fsspec URL given at construction."""
        return self._url

    def read_bytes(self, key: str) -> bytes:
        """Return the whole object stored under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "read"):
            return bytes(self._fs.cat_file(path))

    def write_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` with one atomic PUT."""
        path = self._path(key)
        with storage_errors(self.url, key, "write"):
            self._fs.makedirs(posixpath.dirname(path), exist_ok=True)
            self._fs.pipe_file(path, data)

    def write_file(self, key: str, source: Path) -> None:
        """Upload the local file ``source`` to ``key`` (one PUT or multipart upload)."""
        path = self._path(key)
        with source_errors(source):
            Path(source).stat()
        with storage_errors(self.url, key, "write"):
            self._fs.makedirs(posixpath.dirname(path), exist_ok=True)
            self._fs.put_file(os.fspath(source), path)

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "check"):
            return bool(self._fs.isfile(path))

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for a streamed binary read."""
        path = self._path(key)
        with storage_errors(self.url, key, "open"):
            return cast(BinaryIO, self._fs.open(path, "rb"))

    def size(self, key: str) -> int:
        """The size in bytes of the object under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "stat"):
            return int(self._fs.size(path))

    def delete(self, key: str) -> None:
        """Remove the object under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "delete"):
            self._fs.rm_file(path)

    def _path(self, key: str) -> str:
        key = validate_logical_path(key)
        return f"{self._root}/{key}" if self._root else key
