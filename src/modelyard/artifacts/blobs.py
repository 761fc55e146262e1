"""Content-addressed blobs: bytes named by their SHA-256, verified on every read.

A blob is stored once, under ``blobs/sha256/<h[0:2]>/<h[2:4]>/<h>``, whatever
the number of runs, datasets or models that refer to it (deduplication comes for
free with the name). When a master key is configured, new blobs are sealed with
:mod:`modelyard.artifacts.crypto` and stored with a ``.enc`` suffix, so a reader
knows from the name alone whether it needs the key. Every read re-hashes the
plaintext; bad data raises :class:`~modelyard.exceptions.IntegrityError` and is
never returned, and a download only appears at its destination once verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.artifacts._io import atomic_file, source_errors
from modelyard.artifacts.crypto import check_master_key, seal, seal_stream, unseal, unseal_stream
from modelyard.artifacts.local import LocalStorage
from modelyard.artifacts.refs import BlobRef, validate_sha256
from modelyard.artifacts.storage import Storage, make_storage
from modelyard.exceptions import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    StoreError,
)

__all__ = ["BlobStore", "blob_key"]

_CHUNK = 1 << 20
_ENCRYPTED_SUFFIX = ".enc"


def blob_key(sha256: str, *, encrypted: bool = False) -> str:
    """The storage key of a blob, e.g. ``blobs/sha256/ab/cd/abcd...`` (+ ``.enc``)."""
    sha256 = validate_sha256(sha256)
    suffix = _ENCRYPTED_SUFFIX if encrypted else ""
    return f"blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


class BlobStore:
    """Store and fetch content-addressed blobs in a folder or any fsspec URL.

    Args:
        url: A local folder, ``file://`` URL or fsspec URL (``s3://bucket/prefix``),
            or a ready :class:`~modelyard.artifacts.storage.Storage`.
        master_key: 32-byte master key. When given, new blobs are written encrypted
            and encrypted blobs can be read; without it they cannot.

    Raises:
        EncryptionError: ``master_key`` is not 32 bytes.

    Example:
        >>> store = BlobStore("memory://doc-example")
        >>> ref = store.put_bytes(b"hello")
        >>> store.get_bytes(ref.sha256)
        b'hello'
    """

    def __init__(self, url: str | Storage, master_key: bytes | None = None) -> None:
        if master_key is not None:
            check_master_key(master_key)
        self._storage: Storage = make_storage(url) if isinstance(url, str) else url
        self._master_key = master_key

    def __repr__(self) -> str:
        return f"BlobStore({self._storage.url!r}, encrypted={self.encrypted})"

    @property
    def encrypted(self) -> bool:
        """Whether new blobs are written encrypted (a master key is configured)."""
        return self._master_key is not None

    @property
    def storage(self) -> Storage:
        """The storage backend the blobs live in."""
        return self._storage

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored (encrypted or not)."""
        return any(self._storage.exists(key) for key, _ in self._candidates(sha256))

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data`` (once: content already present is not written again).

        Returns:
            The :class:`BlobRef` naming the content.
        """
        data = bytes(data)
        ref = BlobRef(hashlib.sha256(data).hexdigest(), len(data))
        if self.exists(ref.sha256):
            return ref
        key = blob_key(ref.sha256, encrypted=self.encrypted)
        if self._master_key is not None:
            data = seal(data, self._master_key, ref.sha256.encode("ascii"))
        self._storage.write_bytes(key, data)
        return ref

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store a local file, streaming it in chunks (bounded memory at any size).

        Returns:
            The :class:`BlobRef` naming the content.

        Raises:
            NotFoundError: ``path`` does not exist.
            ConflictError: The file changed while it was being stored.
        """
        source = Path(path)
        with source_errors(source):
            before = source.stat()
            with open(source, "rb") as handle:
                sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
                ref = BlobRef(sha256, handle.tell())
        if self.exists(ref.sha256):
            return ref
        key = blob_key(ref.sha256, encrypted=self.encrypted)
        if self._master_key is None:
            self._storage.write_file(key, source)
        else:
            self._write_sealed(key, source, ref.sha256, self._master_key)
        with source_errors(source):
            after = source.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            with contextlib.suppress(NotFoundError):
                self._storage.delete(key)
            raise ConflictError(
                f"{source} changed while it was being stored, so what was read does not "
                "match its hash; store it again once nothing is writing to it",
                path=str(source),
            )
        return ref

    def get_bytes(self, sha256: str) -> bytes:
        """Return the content of a blob, verified against its name.

        Raises:
            ValidationError: ``sha256`` is not a blob name.
            NotFoundError: No such blob.
            IntegrityError: The stored data does not match its name (never returned).
            EncryptionError: The blob is encrypted and the right key is not configured.
        """
        for key, encrypted in self._candidates(sha256):
            try:
                stored = self._storage.read_bytes(key)
            except NotFoundError:
                continue
            if encrypted:
                stored = unseal(stored, self._master_key, sha256.encode("ascii"), sha256)
            _verify(sha256, hashlib.sha256(stored).hexdigest())
            return stored
        raise self._not_found(sha256)

    def download(self, sha256: str, dest: str | os.PathLike[str]) -> BlobRef:
        """Stream a blob to the local file ``dest``, verified before it appears there.

        The content goes to a temporary file next to ``dest``, which is renamed to
        ``dest`` only once its hash checks out; on any failure ``dest`` is untouched.

        Returns:
            The :class:`BlobRef` of the downloaded content.

        Raises:
            ValidationError: ``sha256`` is not a blob name.
            NotFoundError: No such blob.
            IntegrityError: The stored data does not match its name.
            EncryptionError: The blob is encrypted and the right key is not configured.
            StoreError: ``dest`` cannot be written.
        """
        target = Path(dest)
        for key, encrypted in self._candidates(sha256):
            try:
                handle = self._storage.open(key)
            except NotFoundError:
                continue
            with handle:
                return self._stream_to(sha256, handle, encrypted, target)
        raise self._not_found(sha256)

    def local_path(self, sha256: str) -> Path | None:
        """The local file holding the blob in the clear, or None if there is none.

        Only a plaintext blob in a local folder has one (an encrypted or remote
        blob must be :meth:`download`-ed). The file is hash-checked the first time
        this process asks for it, and again whenever its size or mtime changed, so
        readers such as DuckDB can open it in place without copying it.

        Raises:
            IntegrityError: The file does not match its name.
        """
        storage = self._storage
        if not isinstance(storage, LocalStorage):
            return None
        path = storage.root / blob_key(sha256)
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (str(path), stat.st_size, stat.st_mtime_ns)
        if stamp not in _VERIFIED:
            with open(path, "rb") as handle:
                _verify(sha256, hashlib.file_digest(handle, "sha256").hexdigest())
            _VERIFIED.add(stamp)
        return path

    def _write_sealed(self, key: str, source: Path, sha256: str, master_key: bytes) -> None:
        """Seal ``source`` into a temporary file (bounded memory), then store that."""
        try:
            with tempfile.TemporaryDirectory(prefix="modelyard-seal-") as folder:
                sealed = Path(folder) / "blob.enc"
                with open(source, "rb") as src, open(sealed, "wb") as dst:
                    seal_stream(src, dst, master_key, sha256.encode("ascii"))
                self._storage.write_file(key, sealed)
        except OSError as exc:
            raise StoreError(
                f"cannot encrypt {source} for storage: {exc.strerror or exc}; check that it "
                f"is readable and that the temporary folder {tempfile.gettempdir()} has "
                "free space (set TMPDIR to use another)",
                path=str(source),
            ) from exc

    def _stream_to(self, sha256: str, source: BinaryIO, encrypted: bool, dest: Path) -> BlobRef:
        aad = sha256.encode("ascii")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(dest, suffix=".part") as out:
                sink = _HashingWriter(out)
                if encrypted:
                    unseal_stream(source, sink, self._master_key, aad, sha256)
                else:
                    while chunk := source.read(_CHUNK):
                        sink.write(chunk)
                _verify(sha256, sink.hexdigest())
        except OSError as exc:
            raise StoreError(
                f"cannot download blob {sha256} to {dest}: {exc.strerror or exc}; check that "
                "the destination folder is writable and has free space, and that the "
                f"artifact storage at {self._storage.url} is reachable",
                blob=sha256,
                dest=str(dest),
            ) from exc
        return BlobRef(sha256, sink.size)

    def _candidates(self, sha256: str) -> Iterator[tuple[str, bool]]:
        """Storage keys the blob may live under, the one this store writes first."""
        validate_sha256(sha256)
        for encrypted in (self.encrypted, not self.encrypted):
            yield blob_key(sha256, encrypted=encrypted), encrypted

    def _not_found(self, sha256: str) -> NotFoundError:
        return NotFoundError(
            f"no blob {sha256} in the artifact store at {self._storage.url}; check the "
            "hash, and that this is the store it was written to",
            blob=sha256,
            storage=self._storage.url,
        )


# Local blob files already hash-checked by this process: (path, size, mtime_ns).
_VERIFIED: set[tuple[str, int, int]] = set()


class _HashingWriter:
    """Writes through to a file while hashing and counting what passes."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._out.write(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _verify(sha256: str, actual: str) -> None:
    if actual != sha256:
        raise IntegrityError(
            f"blob {sha256} is corrupt: its content hashes to {actual}, so it is not "
            "returned; restore it from a backup or store the original again",
            blob=sha256,
            actual_sha256=actual,
        )
