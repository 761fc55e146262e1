"""Manifests: the files of a run, dataset version or model, as path → blob.

A :class:`Manifest` maps validated logical paths (``model/model.skops``) to
:class:`~modelyard.artifacts.refs.BlobRef` s. It is immutable, and its JSON form
is canonical (sorted keys, no whitespace, UTF-8), so two manifests with the same
files serialize to the same bytes and hash to the same :meth:`Manifest.digest`;
a manifest can itself be stored as a blob.

JSON layout::

    {"files":{"model/model.skops":{"sha256":"ab12...","size":1234}},"version":1}
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

from modelyard.artifacts.paths import validate_logical_path
from modelyard.artifacts.refs import BlobRef
from modelyard.exceptions import ModelyardError, NotFoundError, ValidationError

__all__ = ["MANIFEST_VERSION", "Manifest"]

MANIFEST_VERSION = 1
"""The manifest format this code writes and reads."""


class Manifest(Mapping[str, BlobRef]):
    """An immutable mapping of logical path → :class:`BlobRef`, sorted by path.

    Args:
        entries: A mapping or ``(path, ref)`` pairs. Paths are validated with
            :func:`~modelyard.artifacts.paths.validate_logical_path` (and NFC-normalized).

    Raises:
        ValidationError: A path is invalid, appears twice, is both a file and a
            folder of another path (``a`` and ``a/b``), or a value is not a BlobRef.

    Example:
        >>> ref = BlobRef("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0)
        >>> Manifest({"empty.txt": ref}).to_json()[:28]
        b'{"files":{"empty.txt":{"sha2'
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, BlobRef] | Iterable[tuple[str, BlobRef]] = ()) -> None:
        pairs = entries.items() if isinstance(entries, Mapping) else entries
        built: dict[str, BlobRef] = {}
        for raw_path, ref in pairs:
            path = validate_logical_path(raw_path)
            if path in built:
                raise ValidationError(
                    f"artifact path {path!r} appears twice in the manifest; give each file "
                    "one path (paths are compared after NFC normalization)",
                    path=path,
                )
            value: object = ref
            if not isinstance(value, BlobRef):
                raise ValidationError(
                    f"manifest entry {path!r} maps to a {type(value).__name__}; "
                    "expected a BlobRef (from BlobStore.put_bytes or put_file)",
                    path=path,
                )
            built[path] = ref
        _check_no_file_folder_clash(built)
        self._entries: dict[str, BlobRef] = dict(sorted(built.items()))

    def __getitem__(self, path: str) -> BlobRef:
        key = unicodedata.normalize("NFC", path) if isinstance(path, str) else path
        try:
            return self._entries[key]
        except KeyError:
            raise NotFoundError(
                f"no file {path!r} in this manifest; it holds {len(self)} files, "
                "see list(manifest) for their paths",
                path=str(path),
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Manifest):
            return self._entries == other._entries
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Manifest({len(self)} files, {self.total_size} bytes, digest={self.digest()[:12]})"

    @property
    def total_size(self) -> int:
        """The sum of the sizes of all files, in bytes."""
        return sum(ref.size for ref in self._entries.values())

    def with_entry(self, path: str, ref: BlobRef) -> Manifest:
        """Return a new manifest with ``path`` set to ``ref`` (added or replaced)."""
        entries = dict(self._entries)
        entries[validate_logical_path(path)] = ref
        return Manifest(entries)

    def to_json(self) -> bytes:
        """Serialize canonically: equal manifests always give identical bytes."""
        document = {
            "files": {p: {"sha256": r.sha256, "size": r.size} for p, r in self._entries.items()},
            "version": MANIFEST_VERSION,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")

    def digest(self) -> str:
        """The SHA-256 (lowercase hex) of :meth:`to_json`; equal manifests share it."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """Parse and validate a manifest written by :meth:`to_json`.

        Raises:
            ValidationError: The data is not UTF-8 JSON, not the manifest layout,
                of another format version, or holds an invalid path, hash or size.
        """
        raw: object = data
        if not isinstance(raw, bytes | bytearray | str):
            _malformed(f"expected bytes or str, got {type(raw).__name__}")
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
            document = json.loads(
                text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant
            )
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            if isinstance(exc, ModelyardError):
                raise
            _malformed(f"it is not valid UTF-8 JSON ({exc})")
        if not isinstance(document, dict) or set(document) != {"files", "version"}:
            _malformed('expected an object with exactly the keys "files" and "version"')
        version = document["version"]
        if version != MANIFEST_VERSION or isinstance(version, bool):
            _malformed(
                f"its format version is {version!r}; this modelyard reads version "
                f"{MANIFEST_VERSION} (a newer version needs a newer modelyard)"
            )
        files = document["files"]
        if not isinstance(files, dict):
            _malformed('"files" must be an object mapping paths to {"sha256", "size"}')
        return cls((path, _parse_ref(path, entry)) for path, entry in files.items())


def _parse_ref(path: str, entry: Any) -> BlobRef:
    if not isinstance(entry, dict) or set(entry) != {"sha256", "size"}:
        _malformed(f'the entry for {path!r} must be an object with exactly "sha256" and "size"')
    return BlobRef(entry["sha256"], entry["size"])


def _check_no_file_folder_clash(entries: Mapping[str, BlobRef]) -> None:
    for path in entries:
        segments = path.split("/")
        for depth in range(1, len(segments)):
            folder = "/".join(segments[:depth])
            if folder in entries:
                raise ValidationError(
                    f"artifact path {folder!r} is a file, but {path!r} uses it as a folder; "
                    "a path cannot be both, so rename one of them",
                    path=path,
                    folder=folder,
                )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _malformed(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    _malformed(f"it contains {name}, which is not valid JSON")


def _malformed(reason: str) -> NoReturn:
    raise ValidationError(f"malformed manifest: {reason}", reason=reason)
