"""Artifact storage in a local folder, written atomically and durably."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from modelyard.artifacts._io import (
    atomic_file,
    fsync_dir,
    make_dirs,
    source_errors,
    storage_errors,
)
from modelyard.artifacts.paths import validate_logical_path

__all__ = ["LocalStorage"]

_COPY_CHUNK = 1 << 20


class LocalStorage:
    """Objects as files below a local folder, written atomically and durably.

    A write goes to a temporary file in the destination folder, is flushed and
    fsync'ed, renamed over the final name with :func:`os.replace`, and the folder
    is fsync'ed, so after a crash the key holds the old object or the whole new one.

    Args:
        root: The folder; it is created on the first write.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self._root)!r})"

    @property
    def url(self) -> str:
        """The root folder."""
        return str(self._root)

    @property
    def root(self) -> Path:
        """The root folder."""
        return self._root

    def read_bytes(self, key: str) -> bytes:
        """Return the whole object stored under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "read"):
            return path.read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (temp file, fsync, rename)."""
        self._write_atomically(key, lambda handle: handle.write(data))

    def write_file(self, key: str, source: Path) -> None:
        """Copy the local file ``source`` to ``key`` atomically, in 1 MiB chunks."""
        with source_errors(source):
            source_handle = open(source, "rb")  # noqa: SIM115 - closed below
        with source_handle:
            self._write_atomically(
                key, lambda handle: shutil.copyfileobj(source_handle, handle, _COPY_CHUNK)
            )

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "check"):
            return path.is_file()

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for a streamed binary read."""
        path = self._path(key)
        with storage_errors(self.url, key, "open"):
            return open(path, "rb")  # the caller closes it

    def size(self, key: str) -> int:
        """The size in bytes of the file under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "stat"):
            return path.stat().st_size

    def delete(self, key: str) -> None:
        """Remove the file under ``key``."""
        path = self._path(key)
        with storage_errors(self.url, key, "delete"):
            path.unlink()
            fsync_dir(path.parent)

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_logical_path(key).split("/"))

    def _write_atomically(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        final = self._path(key)
        with storage_errors(self.url, key, "write"):
            make_dirs(final.parent)
            with atomic_file(final) as handle:
                fill(handle)
