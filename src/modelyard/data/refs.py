"""Dataset references: ``churn``, ``churn@3``, ``churn@latest``, ``churn@1f3a9c0d``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.exceptions import ValidationError
from modelyard.store import DATASET_NAME_RE

__all__ = ["REF_PATTERN", "DatasetRef", "parse_ref"]

# A version is a number (below 8 digits), ``latest``, or a content-hash prefix (8+ hex).
_VERSION = r"(?:latest|[0-9]{1,7}|[0-9a-f]{8,64})"
REF_PATTERN = re.compile(rf"(?P<name>{DATASET_NAME_RE.pattern})(?:@(?P<version>{_VERSION}))?")


@dataclass(frozen=True)
class DatasetRef:
    """A parsed reference: a name and at most one of version number or hash prefix."""

    name: str
    version: int | None = None
    hash_prefix: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.hash_prefix is not None:
            return f"{self.name}@{self.hash_prefix}"
        return self.name


def parse_ref(text: str) -> DatasetRef:
    """Parse ``name[@version|@latest|@hash-prefix]``.

    Raises:
        ValidationError: The text is not a reference (the message shows the forms).
    """
    match = REF_PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(
            f"bad dataset reference {str(text)[:200]!r}; write NAME (latest version), "
            "NAME@3 (version 3), NAME@latest or NAME@<8+ hex characters of the content hash>",
            ref=str(text)[:200],
        )
    version = match["version"]
    if version is None or version == "latest":
        return DatasetRef(match["name"])
    if len(version) < 8 and version.isdigit():
        if int(version) < 1:
            raise ValidationError(f"dataset versions start at 1, got {text!r}")
        return DatasetRef(match["name"], version=int(version))
    return DatasetRef(match["name"], hash_prefix=version)
