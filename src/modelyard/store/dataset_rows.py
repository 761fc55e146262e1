"""Dataset metadata as Python values: version and split records, names, row decoding.

The rows of ``dataset_versions`` hold JSON documents the code reads whole; this
module turns rows into :class:`VersionRecord` / :class:`SplitRecord` values and
checks dataset names. :class:`~modelyard.store.dataset_store.DatasetStore` is the
part that talks to the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from modelyard.exceptions import ValidationError
from modelyard.store.schema import dataset_versions, datasets

__all__ = [
    "DATASET_NAME_RE",
    "JSON_COLUMNS",
    "NewVersion",
    "SplitRecord",
    "VersionRecord",
    "check_dataset_name",
    "dumps",
    "ranges",
    "record_from_row",
    "split_from_row",
    "version_select",
]

# A dataset name must survive being written as ``name@3`` inside SQL text.
DATASET_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[.-][A-Za-z0-9_]+)*")
_NAME_MAX = 128
JSON_COLUMNS = ("schema", "parts", "profile", "source", "masking", "validation")


@dataclass(frozen=True)
class VersionRecord:
    """One stored dataset version (JSON columns decoded)."""

    name: str
    version: int
    content_hash: str
    num_rows: int
    num_bytes: int
    schema: dict[str, Any]
    parts: list[dict[str, Any]]
    profile: dict[str, Any]
    sketches: str | None
    source: dict[str, Any]
    masking: dict[str, Any]
    validation: dict[str, Any] | None
    bad_lines: int
    parent_version: int | None
    created_at: int
    created_by: str | None


@dataclass(frozen=True)
class NewVersion:
    """What a builder returns for :meth:`DatasetStore.commit_version` to insert."""

    content_hash: str
    num_rows: int
    num_bytes: int
    schema: dict[str, Any]
    parts: list[dict[str, Any]]
    profile: dict[str, Any]
    source: dict[str, Any]
    sketches: str | None = None
    masking: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    bad_lines: int = 0
    parent_version: int | None = None


@dataclass(frozen=True)
class SplitRecord:
    """A named split of one version: its spec, part sizes and the assignment blob."""

    name: str
    version: int
    split: str
    spec: dict[str, Any]
    counts: dict[str, int]
    assignment: str
    created_at: int


def check_dataset_name(name: Any) -> str:
    """Return ``name`` if it is a valid dataset name.

    Raises:
        ValidationError: Not a string, too long, or not of the form ``churn``,
            ``sales.eu``, ``web-logs_2024``.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"dataset name must be a non-empty string, got {name!r}")
    if len(name) > _NAME_MAX or not DATASET_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"invalid dataset name {name[:200]!r}: use letters, digits and _ (starting with "
            f"a letter), optionally joined by . or -, at most {_NAME_MAX} characters "
            "(e.g. churn, sales.eu, web-logs_2024)",
            name=name[:200],
        )
    return name


def version_select() -> Any:
    """SELECT of every version column plus the dataset's name."""
    return select(datasets.c.name, dataset_versions).join(
        datasets, datasets.c.dataset_id == dataset_versions.c.dataset_id
    )


def record_from_row(row: Any) -> VersionRecord:
    """A :class:`VersionRecord` from a :func:`version_select` row (JSON decoded)."""
    m = row._mapping
    return VersionRecord(
        name=m["name"],
        version=m["version"],
        content_hash=m["content_hash"],
        num_rows=m["num_rows"],
        num_bytes=m["num_bytes"],
        sketches=m["sketches"],
        bad_lines=m["bad_lines"],
        parent_version=m["parent_version"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        schema=json.loads(m["schema"]),
        parts=json.loads(m["parts"]),
        profile=json.loads(m["profile"]),
        source=json.loads(m["source"]),
        masking=json.loads(m["masking"]),
        validation=None if m["validation"] is None else json.loads(m["validation"]),
    )


def split_from_row(name: str, row: Any) -> SplitRecord:
    """A :class:`SplitRecord` of dataset ``name`` from a ``dataset_splits`` row."""
    m = row._mapping
    return SplitRecord(
        name=name,
        version=m["version"],
        split=m["name"],
        spec=json.loads(m["spec"]),
        counts=json.loads(m["counts"]),
        assignment=m["assignment"],
        created_at=m["created_at"],
    )


def dumps(value: Any) -> str | None:
    """A JSON column's text (None stays NULL); strict JSON, key order kept."""
    # Key order is kept: a split's parts are in order, and the assignment indexes them.
    return None if value is None else json.dumps(value, allow_nan=False)


def ranges(numbers: Sequence[int]) -> str:
    """``1-4, 7, 9-10``: a compact list of version numbers."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
