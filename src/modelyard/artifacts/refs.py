"""Blob references: the SHA-256 name and size that identify stored content."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.exceptions import ValidationError

__all__ = ["BlobRef", "validate_sha256"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def validate_sha256(value: str) -> str:
    """Check that ``value`` is a blob name: 64 lowercase hexadecimal characters.

    Raises:
        ValidationError: Anything else (which also keeps names from being paths).
    """
    candidate: object = value
    if not isinstance(candidate, str) or not _SHA256.fullmatch(candidate):
        shown = repr(candidate)[:100]
        hint = (
            " (use lowercase)"
            if isinstance(candidate, str) and _SHA256.fullmatch(candidate.lower())
            else ""
        )
        raise ValidationError(
            f"invalid blob name {shown}: expected a SHA-256 digest as 64 lowercase "
            f"hexadecimal characters{hint}, such as BlobRef.sha256",
            sha256=shown,
        )
    return candidate


@dataclass(frozen=True)
class BlobRef:
    """A reference to stored content: its SHA-256 (lowercase hex) and size in bytes.

    Raises:
        ValidationError: ``sha256`` is not 64 lowercase hex characters, or ``size``
            is not a non-negative integer.
    """

    sha256: str
    size: int

    def __post_init__(self) -> None:
        validate_sha256(self.sha256)
        size: object = self.size
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValidationError(
                f"invalid blob size {size!r} for blob {self.sha256}: expected a "
                "non-negative integer number of bytes",
                sha256=self.sha256,
            )
