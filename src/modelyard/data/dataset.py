"""A dataset version as users hold it: metadata plus readers over its Parquet parts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.data.dtypes import schema_from_dict
from modelyard.data.profile import Profile
from modelyard.exceptions import ValidationError
from modelyard.store import SplitRecord, VersionRecord

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.data.client import DataClient

__all__ = ["Dataset", "Split"]

_SCAN_ROWS = 131_072


class Dataset:
    """One immutable version of a dataset.

    Get one from :meth:`DataClient.get` / ``my.data.get("churn@3")``; it reads
    its Parquet parts lazily: :meth:`to_arrow` and :meth:`to_pandas` load them,
    :meth:`scan` streams record batches for data larger than memory.
    """

    def __init__(self, record: VersionRecord, client: DataClient) -> None:
        self._record = record
        self._client = client
        self.name = record.name
        self.version = record.version
        self.content_hash = record.content_hash
        self.num_rows = record.num_rows
        self.num_bytes = record.num_bytes
        self.source = record.source
        self.masking = record.masking
        self.validation = record.validation
        self.bad_lines = record.bad_lines
        self.parent_version = record.parent_version
        self.created_by = record.created_by
        self.created_at = datetime.fromtimestamp(record.created_at / 1000, tz=UTC)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.ref!r}, rows={self.num_rows}, columns={len(self.schema)}, "
            f"hash={self.content_hash[:12]})"
        )

    @property
    def ref(self) -> str:
        """``name@version``: how training, queries and the CLI name this version."""
        return f"{self.name}@{self.version}"

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of every part."""
        return schema_from_dict(self._record.schema)

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return [f["name"] for f in self._record.schema["fields"]]

    @property
    def profile(self) -> Profile:
        """Per-column statistics computed when the version was written."""
        return Profile.from_dict(self._record.profile)

    @property
    def parts(self) -> list[dict[str, Any]]:
        """The Parquet parts: ``{"sha256", "rows", "bytes"}`` each, in row order."""
        return [dict(p) for p in self._record.parts]

    def files(self) -> list[Path]:
        """Local paths of the parts (downloaded and decrypted to a temp folder if needed)."""
        return self._client._part_files(self._record.parts)

    # -- reading -------------------------------------------------------------
    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole version as an Arrow table (``columns`` to read only some)."""
        self._check_columns(columns)
        cols = list(columns) if columns is not None else None
        tables = [pq.read_table(path, columns=cols) for path in self.files()]
        return pa.concat_tables(tables) if tables else self.schema.empty_table()

    def to_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        split: str | None = None,
        part: str | None = None,
    ) -> pd.DataFrame:
        """The version (or one part of a recorded split) as a pandas DataFrame."""
        if split is not None or part is not None:
            if split is None or part is None:
                raise ValidationError(
                    "give both split= and part= (e.g. split='default', part='train')"
                )
            return self.get_split(split).to_arrow(part, columns=columns).to_pandas()
        return self.to_arrow(columns).to_pandas()

    def scan(
        self, *, columns: Sequence[str] | None = None, batch_rows: int = _SCAN_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Stream the rows as record batches, in order, in bounded memory."""
        import pyarrow.dataset as pads  # it imports pandas: ~0.5 s that only scans need

        self._check_columns(columns)
        dataset = pads.dataset([str(p) for p in self.files()], format="parquet")
        yield from dataset.to_batches(
            columns=list(columns) if columns is not None else None, batch_size=batch_rows
        )

    # -- splits ----------------------------------------------------------------
    def split(
        self,
        name: str = "default",
        *,
        kind: str = "random",
        fractions: dict[str, float] | None = None,
        seed: int = 0,
        by: str | None = None,
        time_column: str | None = None,
    ) -> Split:
        """Make (or fetch, when the same spec was recorded before) a named split.

        Args:
            name: What training will call it (``split="default"``).
            kind: ``random``, ``stratified`` (needs ``by``) or ``time`` (needs ``time_column``).
            fractions: Part names to fractions summing to 1; default train/valid/test
                0.7/0.15/0.15.
            seed: Makes random and stratified splits reproducible.
            by: The column whose class proportions every part keeps.
            time_column: Earlier rows go to earlier parts.
        """
        return self._client._make_split(
            self, name, kind=kind, fractions=fractions, seed=seed, by=by, time_column=time_column
        )

    def get_split(self, name: str = "default") -> Split:
        """A split recorded on this version."""
        return Split(self._client._store.get_split(self.name, self.version, name), self)

    def splits(self) -> list[Split]:
        """Every split recorded on this version."""
        return [Split(r, self) for r in self._client._store.list_splits(self.name, self.version)]

    def _check_columns(self, columns: Sequence[str] | None) -> None:
        if columns is None:
            return
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise ValidationError(
                f"{self.ref} has no column(s) {', '.join(map(repr, unknown))}; "
                f"columns: {', '.join(self.columns)}",
                columns=unknown,
            )


class Split:
    """A recorded split of a version: which part every row belongs to."""

    def __init__(self, record: SplitRecord, dataset: Dataset) -> None:
        self.name = record.split
        self.spec = record.spec
        self.counts = record.counts
        self.dataset = dataset
        self._assignment_blob = record.assignment
        self._assignment: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Split({self.dataset.ref!r}, {self.name!r}, {self.counts})"

    @property
    def parts(self) -> list[str]:
        """Part names, in the spec's order."""
        return list(self.spec["fractions"])

    def assignment(self) -> np.ndarray:
        """One int8 per row: the index of its part in :attr:`parts`."""
        if self._assignment is None:
            blob = self.dataset._client._blobs.get_bytes(self._assignment_blob)
            table = pq.read_table(pa.BufferReader(blob))
            self._assignment = table.column("part").to_numpy()
        return self._assignment

    def indices(self, part: str) -> np.ndarray:
        """Row numbers (in version order) of ``part``."""
        return np.flatnonzero(self.assignment() == self._part_index(part))

    def to_arrow(self, part: str, *, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``part`` as an Arrow table."""
        return self.dataset.to_arrow(columns).take(pa.array(self.indices(part)))

    def to_pandas(self, part: str, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of ``part`` as a pandas DataFrame."""
        return self.to_arrow(part, columns=columns).to_pandas()

    def _part_index(self, part: str) -> int:
        if part not in self.parts:
            raise ValidationError(
                f"split {self.name!r} of {self.dataset.ref} has no part {part!r}; "
                f"parts: {', '.join(self.parts)}"
            )
        return self.parts.index(part)
