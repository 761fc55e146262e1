"""Artifacts: content-addressed blobs, their storage, encryption and manifests.

This package owns every byte of artifact content modelyard keeps: model files,
dataset parquet files, plots, reports. Content is stored once, named by its
SHA-256 (:class:`BlobStore`), written atomically, verified on every read, and
optionally encrypted at rest with envelope encryption (:func:`seal`/:func:`unseal`).
Storage is a local folder (:class:`LocalStorage`) or any fsspec URL
(:class:`FsspecStorage`), chosen by :func:`make_storage`. Runs, datasets and
models refer to their files through a :class:`Manifest` (logical path → blob),
whose paths are checked by :func:`validate_logical_path`.

It sits in layer L1: it imports only ``modelyard.exceptions``, ``modelyard.config``,
``modelyard._utils`` and third-party libraries. Other packages use it through
the names below, never its modules.
"""

from __future__ import annotations

from modelyard.artifacts.blobs import BlobStore
from modelyard.artifacts.crypto import seal, unseal
from modelyard.artifacts.local import LocalStorage
from modelyard.artifacts.manifest import Manifest
from modelyard.artifacts.paths import validate_logical_path
from modelyard.artifacts.refs import BlobRef
from modelyard.artifacts.remote import FsspecStorage
from modelyard.artifacts.storage import Storage, make_storage

__all__ = [
    "BlobRef",
    "BlobStore",
    "FsspecStorage",
    "LocalStorage",
    "Manifest",
    "Storage",
    "make_storage",
    "seal",
    "unseal",
    "validate_logical_path",
]
