"""Where :func:`~modelyard.serving.runtime.load_served_model` finds a version and its files.

A :class:`~modelyard.registry.ModelRegistry` is the usual source. A batch job's Ray
workers have no registry: the driver ships them one version's files instead
(:class:`~modelyard.serving._batch_chunks.ModelPackage`), read through the same
protocol, so every served model is built by the one function.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelyard.registry import ModelVersion

__all__ = ["BlobReader", "ModelSource"]


class BlobReader(Protocol):
    """Reads blobs by their SHA-256 (like :class:`~modelyard.artifacts.BlobStore`)."""

    def get_bytes(self, sha256: str, /) -> bytes:
        """The blob's content.

        Raises:
            NotFoundError: No such blob.
        """
        ...


class ModelSource(Protocol):
    """Model versions, their native models and their blobs (like a ModelRegistry)."""

    @property
    def blobs(self) -> BlobReader:
        """Where the versions' packaged files (ONNX graphs) are read."""
        ...

    def get(self, ref: str, /) -> ModelVersion:
        """The version ``ref`` names (``churn@champion``, ``churn@3``, ``churn``).

        Raises:
            NotFoundError: No such version.
        """
        ...

    def load_native(self, ref: str, /) -> Any:
        """The fitted native model of the version ``ref`` names, loaded safely."""
        ...
