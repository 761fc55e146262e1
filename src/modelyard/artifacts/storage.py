"""Where blob bytes live: the storage interface, and the choice of backend.

:class:`Storage` is the whole contract the blob layer needs: whole-object reads
and atomic whole-object writes under ``/``-separated keys, streamed reads, and a
few queries. Two backends implement it, one module each:
:class:`~modelyard.artifacts.local.LocalStorage` keeps objects in a folder (temp
file + fsync + rename, so a reader never sees a partial object);
:class:`~modelyard.artifacts.remote.FsspecStorage` covers every fsspec URL
(``s3://``, ``gs://``, ``memory://``...), where one PUT of a whole object is
atomic on object stores. :func:`make_storage` picks one from a URL. Backends
translate vendor and OS errors: a missing object is
:class:`~modelyard.exceptions.NotFoundError`, any other I/O failure
:class:`~modelyard.exceptions.StoreError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from modelyard.artifacts.local import LocalStorage
from modelyard.artifacts.remote import FsspecStorage
from modelyard.exceptions import ValidationError

__all__ = ["Storage", "make_storage"]


@runtime_checkable
class Storage(Protocol):
    """Byte storage under ``/``-separated keys (e.g. ``blobs/sha256/ab/cd/abcd...``).

    Every method raises :class:`~modelyard.exceptions.NotFoundError` for a missing
    key and :class:`~modelyard.exceptions.StoreError` for any other I/O failure.
    Writes are atomic: readers see the old object, or the complete new one.
    """

    @property
    def url(self) -> str:
        """Where the objects live (a folder or an fsspec URL), for messages."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """Return the whole object stored under ``key``."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        ...

    def write_file(self, key: str, source: Path) -> None:
        """Copy the local file ``source`` to ``key`` atomically, in bounded memory."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for a streamed binary read; close it (use ``with``)."""
        ...

    def size(self, key: str) -> int:
        """The size in bytes of the object under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object under ``key``."""
        ...


def make_storage(url: str, **storage_options: Any) -> Storage:
    """Build the storage backend for a folder or URL.

    Args:
        url: A local folder (``/data/artifacts``, ``~/x``), a ``file://`` URL, or
            any other fsspec URL (``s3://bucket/prefix``, ``memory://name``).
        **storage_options: Options for an fsspec filesystem (not valid for local folders).

    Returns:
        :class:`LocalStorage` for folders and ``file://`` URLs, else :class:`FsspecStorage`.

    Raises:
        ValidationError: The URL is empty, a ``file://`` URL names another host, or
            options are given for a local folder.

    Example:
        >>> make_storage("memory://example")
        FsspecStorage('memory://example')
    """
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(
            f"artifact storage URL {url!r} is empty; give a local folder or an fsspec URL "
            "such as s3://bucket/prefix",
            url=repr(url),
        )
    parts = urlsplit(url)
    is_url = "://" in url and len(parts.scheme) > 1  # "C:\\x" is a Windows path, not a URL
    if is_url and parts.scheme not in {"file", "local"}:
        return FsspecStorage(url, **storage_options)
    if storage_options:
        raise ValidationError(
            f"storage options {sorted(storage_options)} were given for the local folder "
            f"{url!r}; they only apply to fsspec URLs such as s3://bucket/prefix",
            url=url,
        )
    if not is_url:
        return LocalStorage(Path(url))
    if parts.netloc not in {"", "localhost"}:
        raise ValidationError(
            f"file URL {url!r} names the host {parts.netloc!r}; only local files are "
            "supported, as file:///absolute/path",
            url=url,
        )
    return LocalStorage(Path(url2pathname(unquote(parts.path))))
